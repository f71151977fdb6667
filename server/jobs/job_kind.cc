#include "server/jobs/job_kind.h"

#include "server/jobs/distance_matrix_job.h"
#include "server/jobs/index_job.h"
#include "server/jobs/knn_job.h"
#include "server/jobs/particles_job.h"
#include "server/jobs/pi_job.h"
#include "server/jobs/table_job.h"
#include "server/jobs/wordcount_job.h"

namespace impulse::jobs {

const JobKind* FindJobKind(const v1::JobSpec& spec) {
  static const ParticlesJob kParticles;
  static const PiJob kPi;
  static const DistanceMatrixJob kDistanceMatrix;
  static const KnnJob kKnn;
  static const WordCountJob kWordCount;
  static const IndexJob kIndex;
  static const TableJob kTable;
  switch (spec.kind_case()) {
    case v1::JobSpec::kParticles:
      return &kParticles;
    case v1::JobSpec::kPi:
      return &kPi;
    case v1::JobSpec::kDistanceMatrix:
      return &kDistanceMatrix;
    case v1::JobSpec::kKnn:
      return &kKnn;
    case v1::JobSpec::kWordcount:
      return &kWordCount;
    case v1::JobSpec::kIndex:
      return &kIndex;
    case v1::JobSpec::kTable:
      return &kTable;
    case v1::JobSpec::KIND_NOT_SET:
      return nullptr;
  }
  return nullptr;
}

}  // namespace impulse::jobs
