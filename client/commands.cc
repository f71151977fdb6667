// submit, get, list, cancel and result: one call (or a chain of pages or
// chunks) each.
#include "client/commands.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>

#include "client/command_util.h"
#include "client/exit_code.h"
#include "client/flag_parsing.h"
#include "client/job_format.h"

namespace impulse::cli {
namespace {

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return text;
}

bool EndsWith(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The file form of a result, chosen by the file's extension: .pb/.bin binary
// protobuf, .csv a table (x,y per particle; samples,hits,estimate for pi),
// anything else protobuf JSON.
std::string EncodeResult(const v1::JobResult& result, const std::string& path) {
  const std::string lower = Lower(path);
  if (EndsWith(lower, ".pb") || EndsWith(lower, ".bin")) {
    return result.SerializeAsString();
  }
  if (EndsWith(lower, ".csv")) {
    std::string csv;
    if (result.has_particles()) {
      const v1::ParticlesResult& p = result.particles();
      csv = "x,y\n";
      const int n = std::min(p.x_size(), p.y_size());
      for (int i = 0; i < n; ++i) {
        csv += fmt::format("{:.17g},{:.17g}\n", p.x(i), p.y(i));
      }
    } else if (result.has_pi()) {
      csv = fmt::format("samples,hits,estimate\n{},{},{:.17g}\n",
                        result.pi().samples(), result.pi().hits(),
                        result.pi().estimate());
    }
    return csv;
  }
  return ToJson(result, /*pretty=*/true) + "\n";
}

std::string JobRow(const v1::Job& job, std::size_t id_width) {
  const v1::Device device =
      job.state() == v1::QUEUED ? job.spec().device() : job.placed_on();
  std::vector<std::string> labels;
  for (const auto& [key, value] : job.spec().labels()) {
    labels.push_back(key + "=" + value);
  }
  std::sort(labels.begin(), labels.end());
  std::string created = FormatTime(job.create_time());
  if (created.size() > 19) created.resize(19);  // to the second
  std::string row =
      fmt::format("{:<{}}  {:<9}  {:<9}  {:<6}  {:>6.1f}%  {:<19}  {}",
                  job.id(), id_width, v1::JobState_Name(job.state()),
                  KindName(job.spec()), v1::Device_Name(device),
                  100.0 * job.progress(), created, fmt::join(labels, ","));
  while (!row.empty() && row.back() == ' ') row.pop_back();
  return row;
}

}  // namespace

int SubmitCommand(const GlobalOptions& global, const SpecFlags& flags) {
  v1::JobSpec spec;
  if (std::string error = BuildSpec(flags, &spec); !error.empty()) {
    return UsageError(error);
  }
  auto client = MakeClient(global);
  v1::Job job;
  if (grpc::Status status = client->Submit(spec, &job); !status.ok()) {
    return RpcError(status);
  }
  // The bare id on stdout, for ID=$(impulse submit ...).
  PrintLine(global.json ? ToJson(job, /*pretty=*/true) : job.id());
  return kExitOk;
}

int GetCommand(const GlobalOptions& global, const std::string& id) {
  auto client = MakeClient(global);
  v1::Job job;
  if (grpc::Status status = client->Get(id, &job); !status.ok()) {
    return RpcError(status);
  }
  PrintLine(global.json ? ToJson(job, /*pretty=*/true) : DescribeJob(job));
  return kExitOk;
}

int ListCommand(const GlobalOptions& global, const ListOptions& options) {
  v1::ListJobsRequest request;
  if (!options.state.empty()) {
    v1::JobState state = v1::JOB_STATE_UNSPECIFIED;
    if (auto error = ParseJobState("--state", options.state, &state);
        !error.empty()) {
      return UsageError(error);
    }
    request.set_state(state);
  }
  for (const std::string& text : options.labels) {
    std::string key, value;
    if (auto error = ParseLabel("--label", text, &key, &value);
        !error.empty()) {
      return UsageError(error);
    }
    (*request.mutable_labels())[key] = value;
  }
  if (!options.page_size.empty()) {
    std::int64_t size = 0;
    if (auto error =
            ParseInt64("--page_size", options.page_size, 1,
                       std::numeric_limits<std::int32_t>::max(), &size);
        !error.empty()) {
      return UsageError(error);
    }
    request.set_page_size(static_cast<std::int32_t>(size));
  }
  request.set_page_token(options.page_token);

  auto client = MakeClient(global);
  v1::ListJobsResponse all;
  for (;;) {
    v1::ListJobsResponse page;
    if (grpc::Status status = client->List(request, &page); !status.ok()) {
      return RpcError(status);
    }
    all.mutable_jobs()->MergeFrom(page.jobs());
    all.set_next_page_token(page.next_page_token());
    if (!options.all || page.next_page_token().empty()) break;
    request.set_page_token(page.next_page_token());
  }

  if (global.json) {
    PrintLine(ToJson(all, /*pretty=*/true));
    return kExitOk;
  }
  if (all.jobs().empty()) {
    fmt::print(stderr, "no jobs\n");
  } else {
    std::size_t id_width = 2;
    for (const v1::Job& job : all.jobs()) {
      id_width = std::max(id_width, job.id().size());
    }
    PrintLine(fmt::format("{:<{}}  {:<9}  {:<9}  {:<6}  {:>7}  {:<19}  {}",
                          "ID", id_width, "STATE", "KIND", "DEVICE", "PROGRESS",
                          "CREATED (UTC)", "LABELS"));
    for (const v1::Job& job : all.jobs()) {
      PrintLine(JobRow(job, id_width));
    }
  }
  if (!all.next_page_token().empty()) {
    fmt::print(stderr, "more jobs: add --page_token {} (or use --all)\n",
               all.next_page_token());
  }
  return kExitOk;
}

int CancelCommand(const GlobalOptions& global, const std::string& id) {
  auto client = MakeClient(global);
  v1::Job job;
  if (grpc::Status status = client->Cancel(id, &job); !status.ok()) {
    return RpcError(status);
  }
  if (global.json) {
    PrintLine(ToJson(job, /*pretty=*/true));
  } else if (job.state() == v1::CANCELLED) {
    PrintLine(fmt::format("job {} CANCELLED", job.id()));
  } else {
    // Cancel of a running job is asynchronous, and of a finished one a no-op.
    PrintLine(fmt::format(
        "job {} {}{}", job.id(), v1::JobState_Name(job.state()),
        IsTerminal(job.state()) ? " (already finished; nothing to cancel)"
                                : " (cancellation requested)"));
  }
  return kExitOk;
}

int DeleteCommand(const GlobalOptions& global,
                  const std::vector<std::string>& ids) {
  auto client = MakeClient(global);
  for (const std::string& id : ids) {
    v1::Job job;
    if (grpc::Status status = client->Delete(id, &job); !status.ok()) {
      return RpcError(status);
    }
    PrintLine(global.json ? ToJson(job, /*pretty=*/true)
                          : fmt::format("job {} deleted (it was {})", job.id(),
                                        v1::JobState_Name(job.state())));
  }
  return kExitOk;
}

int ResultCommand(const GlobalOptions& global, const std::string& id,
                  const std::string& out_file) {
  auto client = MakeClient(global);
  v1::JobResult result;
  if (grpc::Status status = client->FetchResult(id, &result); !status.ok()) {
    return RpcError(status);
  }
  if (out_file.empty()) {
    PrintLine(global.json ? ToJson(result, /*pretty=*/true)
                          : DescribeResult(result));
    return kExitOk;
  }
  const std::string data = EncodeResult(result, out_file);
  std::ofstream out(out_file, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  out.close();
  if (!out) {
    return UsageError(fmt::format("--out: cannot write \"{}\": {}", out_file,
                                  std::strerror(errno)));
  }
  fmt::print(stderr, "wrote {} bytes to {}\n", data.size(), out_file);
  PrintLine(DescribeResult(result));
  return kExitOk;
}

}  // namespace impulse::cli
