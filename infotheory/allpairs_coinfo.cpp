// Batched co-information with discrete z: gcmi_cc_all_pairs minus gccmi_ccd_all_pairs, without
// permutations (see allpairs_conditional.h; the continuous-z form is in allpairs_ccc.cpp).
#include "infotheory/allpairs_conditional.h"

#include "core/error.h"

namespace deeper::info {

AllPairsResult coinfo_ccd_all_pairs(const double* x, std::int64_t units, const double* y, std::int64_t features,
                                    const std::int32_t* labels, std::int64_t trials, int classes,
                                    const AllPairsOptions& options) {
  if (options.permutations != 0) {
    fail("coinfo_ccd_all_pairs: permutations of the co-information with discrete z are not implemented "
         "(permuting the labels changes every class's copula normalisation); use a continuous z or ccd");
  }
  AllPairsResult cmi = gccmi_ccd_all_pairs(x, units, y, features, labels, trials, classes, options);
  const AllPairsResult mi = gcmi_cc_all_pairs(x, units, y, features, trials, options);
  for (std::size_t i = 0; i < cmi.mi.size(); ++i) cmi.mi[i] = mi.mi[i] - cmi.mi[i];
  return cmi;
}

}  // namespace deeper::info
