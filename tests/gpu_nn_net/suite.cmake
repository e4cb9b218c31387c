# The ResNet-10 network and trainer on a real GPU: forward, loss and every gradient against the CPU
# (simt_f32 and wmma_bf16, batch 8 at 64 px, widths 16/32/64/128), inference against the CPU, and
# a few training steps on rendered faces. Skips, naming the reason, without a usable GPU or the
# nvcc pass. Runs in a few seconds.
deeper_test_suite(gpu_nn_net LABEL gpu LIBS deeper_nn)
