# The report writer of deeper-analyze (analysis/svg_plot, analysis/html_report): well-formed SVG
# charts and HTML, escaping, nice ticks, skipped non-finite values, bands, heat-map cells, relative
# paths, and the atomic write.
deeper_test_suite(analysis_report LABEL cpu LIBS deeper_analysis)
