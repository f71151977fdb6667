// A JobSpec as both front-ends receive it: protobuf JSON through the REST
// gateway's FromJson (server/rest/proto_json.cc), or protobuf binary as gRPC
// delivers it (inputs starting with a NUL byte), then JobManager::ValidateSpec
// with every job kind's checks, including those against dataset metadata
// (the manager holds a CSV, a points and a text dataset).
//
// Oracle: no crash or undefined behaviour; a rejected body is
// INVALID_ARGUMENT naming a field under "spec"; validation answers only the
// documented codes; every spec survives protobuf binary (the journal) and
// ToJson -> FromJson unchanged.
#include <google/protobuf/util/field_comparator.h>
#include <google/protobuf/util/message_differencer.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "server/core/job_manager.h"
#include "server/rest/proto_json.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_datasets.h"

namespace {

using impulse::ErrorCode;
using impulse::fuzz::Printable;

impulse::core::JobManager* g_manager = nullptr;

// "" when equal, else protobuf's description of the differences.
std::string Difference(const impulse::v1::JobSpec& a,
                       const impulse::v1::JobSpec& b) {
  google::protobuf::util::MessageDifferencer differencer;
  // Proto3 JSON drops a -0.0 in a field without presence (it reads back as
  // unset, i.e. 0.0): compare values, not presence.
  differencer.set_message_field_comparison(
      google::protobuf::util::MessageDifferencer::EQUIVALENT);
  // NaN is a value a spec can hold (and fail validation with).
  google::protobuf::util::DefaultFieldComparator comparator;
  comparator.set_treat_nan_as_equal(true);
  differencer.set_field_comparator(&comparator);
  std::string report;
  differencer.ReportDifferencesToString(&report);
  if (differencer.Compare(a, b)) return "";
  return report.empty() ? "differ" : report;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  impulse::core::JobManagerOptions options;
  options.scheduler.cpu_threads = 1;
  options.storage_dir = impulse::fuzz::TempDir("job_spec_fuzzer-");
  g_manager = new impulse::core::JobManager(options);
  if (!g_manager->Recover().ok()) std::abort();
  auto& store = g_manager->datasets();
  impulse::fuzz::MustUpload(store, "t", impulse::v1::CSV, 0,
                            "id,name,score,group\n1,a,0.5,x\n2,b,1.5,y\n"
                            "3,c,,x\n");
  impulse::fuzz::MustUpload(store, "u", impulse::v1::CSV, 0,
                            "group,label\nx,first\ny,second\n");
  impulse::fuzz::MustUpload(store, "pts", impulse::v1::POINTS_CSV, 2,
                            "x,y\n0,0\n1,1\n2,0.5\n");
  impulse::fuzz::MustUpload(store, "txt", impulse::v1::TEXT, 0,
                            "the quick brown fox\njumps over the dog\n");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  impulse::v1::JobSpec spec;
  if (!input.empty() && input.front() == '\0') {
    // gRPC: protobuf binary. An unparsable message never reaches the handler.
    if (!spec.ParseFromArray(input.data() + 1,
                             static_cast<int>(input.size() - 1))) {
      return 0;
    }
    spec.DiscardUnknownFields();  // JSON has no form for them
  } else {
    impulse::Status parsed = impulse::rest::FromJson(input, &spec, "spec");
    if (!parsed.ok()) {
      const impulse::Error& error = parsed.error();
      FUZZ_CHECK(error.code == ErrorCode::kInvalidArgument &&
                 error.field.starts_with("spec") && !error.message.empty())
          << "bad JSON answered " << error.ToString() << " for "
          << Printable(input);
      return 0;
    }
  }

  impulse::Status valid = g_manager->ValidateSpec(spec);
  if (!valid.ok()) {
    const impulse::Error& error = valid.error();
    FUZZ_CHECK(error.code == ErrorCode::kInvalidArgument ||
               error.code == ErrorCode::kNotFound ||
               error.code == ErrorCode::kFailedPrecondition)
        << "validation answered " << error.ToString() << " for "
        << Printable(input);
    FUZZ_CHECK(!error.message.empty() && error.field.starts_with("spec"))
        << "validation error without a spec field: " << error.ToString();
  }

  // The journal keeps specs as protobuf binary and reads them back at start.
  impulse::v1::JobSpec stored;
  FUZZ_CHECK(stored.ParseFromString(spec.SerializeAsString()))
      << "spec does not survive the journal (protobuf binary) for "
      << Printable(input);

  const std::string json = impulse::rest::ToJson(spec);
  impulse::v1::JobSpec again;
  impulse::Status reparsed = impulse::rest::FromJson(json, &again, "spec");
  FUZZ_CHECK(reparsed.ok())
      << "ToJson output does not parse: " << reparsed.error().ToString()
      << " in " << Printable(json);
  const std::string diff = Difference(spec, again);
  FUZZ_CHECK(diff.empty()) << "spec changed in a JSON round trip: " << diff
                           << " via " << Printable(json);
  return 0;
}
