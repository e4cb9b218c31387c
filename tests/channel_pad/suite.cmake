# The channel padding kernels of kernels/nn/channel_pad.h (fp32 -> padded bf16, bf16 -> padded bf16,
# padded fp32 -> fp32 with set/accumulate): the emulated kernels against the CPU reference on odd
# shapes, both store widths (16-byte vectors and per value), and bad parameters.
deeper_test_suite(channel_pad LABEL emu LIBS deeper_kernels)
