// The report of deeper-analyze: REPORT_DIR/index.html (opens from disk, no server), results.json
// (every number), maps/*.npy (every map) and figures/*.png (maps drawn on the face and in UV space);
// the charts are inline SVG. Sections: the findings (the paper's claims with verdicts), training,
// E1-E4, gradient maps, methods and reconstruction choices, files, provenance (docs/experiments.md).
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "analysis/analyze.h"

namespace deeper::analysis {

struct ReportContext {
  std::string command_line;  // how the analysis was run
  std::string device;        // the device and why it was chosen
  std::string started;       // UTC time stamp
  double seconds = 0.0;      // whole analysis (filled by the caller)
};

// The source commit the program was configured from ("unknown" outside a git checkout).
std::string source_commit();

// Everything results.json holds (also used by the tests).
nlohmann::json results_json(const Study& study, const AnalysisResults& results, const ReportContext& context);

// Writes the report into `dir` (created; existing files of the same names are replaced atomically, one
// by one). Returns the path of index.html. Throws deeper::Error naming the file that could not be written.
std::filesystem::path write_report(const std::filesystem::path& dir, Study& study, const AnalysisResults& results,
                                   const ReportContext& context);

}  // namespace deeper::analysis
