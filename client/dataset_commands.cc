#include "client/dataset_commands.h"

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "client/channel.h"
#include "client/exit_code.h"
#include "client/job_format.h"
#include "impulse/v1/jobs.grpc.pb.h"

namespace impulse::cli {
namespace {

int UsageError(const std::string& message) {
  fmt::print(stderr, "error: {}\n", message);
  return kExitUsage;
}

int RpcError(const grpc::Status& status) {
  fmt::print(stderr, "error: {}\n", FormatStatus(status));
  return kExitRpcError;
}

void PrintLine(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

constexpr const char* kUploadFooter = R"(
The file is sent in chunks of at most 1 MiB with its SHA-256, so the server
stores it only when it arrived whole. Formats: text (one document per line),
csv (a header row, then records), points_f64 (packed little-endian float64,
--dims per point), points_csv (numbers, one point per row). On a terminal a
progress bar is drawn on stderr. Prints the stored dataset (JSON with --json).

Examples:
  impulse dataset upload corpus.txt --format text
  impulse dataset upload patients.csv --name patients --format csv
  impulse dataset upload points.bin --format points_f64 --dims 2
  generate | impulse dataset upload - --name stream --format text
)";

std::unique_ptr<v1::JobService::Stub> Stub(const GlobalOptions& global) {
  return v1::JobService::NewStub(
      OpenChannel(global.server, global.token, ChannelCredentials(global.tls)));
}

void SetDeadline(const GlobalOptions& global, grpc::ClientContext& context) {
  context.set_deadline(
      std::chrono::system_clock::now() +
      std::chrono::milliseconds(std::llround(global.timeout_seconds * 1000)));
}

grpc::Status Annotate(const GlobalOptions& global, grpc::Status status) {
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    return grpc::Status(status.error_code(), "cannot reach impulsed at " +
                                                 global.server + " (" +
                                                 status.error_message() + ")");
  }
  return status;
}

bool ParseFormat(std::string text, v1::DatasetFormat* format) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return std::toupper(c); });
  return v1::DatasetFormat_Parse(text, format) &&
         *format != v1::DATASET_FORMAT_UNSPECIFIED;
}

std::string FormatBytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 4) {
    bytes /= 1024;
    ++unit;
  }
  return unit == 0 ? fmt::format("{:.0f} B", bytes)
                   : fmt::format("{:.1f} {}", bytes, units[unit]);
}

std::string Summary(const v1::Dataset& d) {
  std::string rows_unit = d.format() == v1::TEXT  ? "lines"
                          : d.format() == v1::CSV ? "rows"
                                                  : "points";
  std::string text = fmt::format(
      "{}  {}  {}  {} {}", d.name(), v1::DatasetFormat_Name(d.format()),
      FormatBytes(static_cast<double>(d.size_bytes())), d.rows(), rows_unit);
  if (d.dims() > 0) text += fmt::format("  dims={}", d.dims());
  text += "  sha256=" + d.sha256();
  return text;
}

// Draws "upload NAME [#####     ] 42% 1.2 MiB of 3.0 MiB, 80 MiB/s" on
// stderr, in place on a terminal, else a line about once a second.
class UploadProgress {
 public:
  UploadProgress(std::string name, std::uint64_t total, bool quiet)
      : name_(std::move(name)),
        total_(total),
        tty_(::isatty(STDERR_FILENO) != 0),
        quiet_(quiet),
        start_(std::chrono::steady_clock::now()) {}

  void Update(std::uint64_t sent, bool force = false) {
    if (quiet_) return;
    const auto now = std::chrono::steady_clock::now();
    const auto interval =
        tty_ ? std::chrono::milliseconds(100) : std::chrono::milliseconds(1000);
    if (!force && now - last_ < interval) return;
    if (force && !tty_ && sent == last_sent_ && last_ != decltype(last_){}) {
      return;  // that line was just printed
    }
    last_ = now;
    last_sent_ = sent;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const std::string rate =
        seconds > 0 ? FormatBytes(sent / seconds) + "/s" : "";
    std::string line;
    if (total_ > 0) {
      const double fraction = std::min(1.0, static_cast<double>(sent) / total_);
      const int width = 30;
      const int filled = static_cast<int>(fraction * width);
      line = fmt::format("upload {} [{}{}] {:5.1f}% {} of {}, {}", name_,
                         std::string(filled, '#'),
                         std::string(width - filled, ' '), 100 * fraction,
                         FormatBytes(static_cast<double>(sent)),
                         FormatBytes(static_cast<double>(total_)), rate);
    } else {
      line = fmt::format("upload {} {}, {}", name_,
                         FormatBytes(static_cast<double>(sent)), rate);
    }
    if (tty_) {
      fmt::print(stderr, "\r{}\x1b[K", line);
      drawn_ = true;
    } else {
      fmt::print(stderr, "{}\n", line);
    }
    std::fflush(stderr);
  }
  void Finish() {
    if (!quiet_ && tty_ && drawn_) fmt::print(stderr, "\n");
  }

 private:
  const std::string name_;
  const std::uint64_t total_;
  const bool tty_;
  const bool quiet_;
  const std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_{};
  std::uint64_t last_sent_ = 0;
  bool drawn_ = false;
};

int Upload(const GlobalOptions& global, const DatasetFlags& flags) {
  v1::DatasetFormat format;
  if (!ParseFormat(flags.format, &format)) {
    return UsageError(
        "--format must be text, csv, points_f64 or points_csv, "
        "got \"" +
        flags.format + "\"");
  }
  if (flags.chunk_bytes == 0 || flags.chunk_bytes > (1 << 20)) {
    return UsageError("--chunk_bytes must be 1..1048576");
  }
  const bool from_stdin = flags.file == "-";
  std::string name = flags.name;
  if (name.empty()) {
    if (from_stdin) return UsageError("--name is required when reading stdin");
    name = std::filesystem::path(flags.file).filename().string();
  }
  std::ifstream file;
  std::istream* in = &std::cin;
  std::uint64_t total = 0;
  if (!from_stdin) {
    file.open(flags.file, std::ios::binary);
    if (!file) return UsageError("cannot open '" + flags.file + "'");
    std::error_code ec;
    total = std::filesystem::file_size(flags.file, ec);
    in = &file;
  }

  // The digest goes in the header, so a whole file is read twice; stdin is
  // sent without one (the server still hashes what arrives).
  std::string sha256;
  if (!from_stdin) {
    EVP_MD_CTX* hash = EVP_MD_CTX_new();
    EVP_DigestInit_ex(hash, EVP_sha256(), nullptr);
    std::string buffer(1 << 20, '\0');
    while (*in) {
      in->read(buffer.data(), buffer.size());
      EVP_DigestUpdate(hash, buffer.data(), in->gcount());
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_DigestFinal_ex(hash, digest, &length);
    EVP_MD_CTX_free(hash);
    for (unsigned int i = 0; i < length; ++i) {
      sha256 += fmt::format("{:02x}", digest[i]);
    }
    file.clear();
    file.seekg(0);
  }

  auto stub = Stub(global);
  grpc::ClientContext context;  // no deadline: large uploads take a while
  v1::Dataset stored;
  auto writer = stub->UploadDataset(&context, &stored);
  v1::UploadDatasetRequest header;
  header.mutable_header()->set_name(name);
  header.mutable_header()->set_format(format);
  header.mutable_header()->set_dims(flags.dims);
  header.mutable_header()->set_sha256(sha256);
  UploadProgress progress(name, total, flags.quiet || global.json);
  std::string buffer(flags.chunk_bytes, '\0');
  std::uint64_t sent = 0;
  // One chunk ahead, so the last message can say so.
  in->read(buffer.data(), buffer.size());
  std::streamsize got = in->gcount();
  header.set_last(got <= 0);
  bool open = writer->Write(header);
  while (open && got > 0) {
    v1::UploadDatasetRequest chunk;
    chunk.set_chunk(buffer.data(), static_cast<std::size_t>(got));
    in->read(buffer.data(), buffer.size());
    got = in->gcount();
    chunk.set_last(got <= 0);
    open = writer->Write(chunk);
    sent += chunk.chunk().size();
    progress.Update(sent);
  }
  if (in->bad()) {
    context.TryCancel();
    progress.Finish();
    return UsageError("reading '" + flags.file + "' failed");
  }
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  progress.Update(sent, /*force=*/true);
  progress.Finish();
  if (!status.ok()) return RpcError(Annotate(global, status));
  PrintLine(global.json ? ToJson(stored, true) : Summary(stored));
  return kExitOk;
}

int List(const GlobalOptions& global) {
  auto stub = Stub(global);
  grpc::ClientContext context;
  SetDeadline(global, context);
  v1::ListDatasetsResponse response;
  grpc::Status status =
      stub->ListDatasets(&context, v1::ListDatasetsRequest(), &response);
  if (!status.ok()) return RpcError(Annotate(global, status));
  if (global.json) {
    PrintLine(ToJson(response, true));
    return kExitOk;
  }
  std::size_t width = 4;
  for (const v1::Dataset& d : response.datasets()) {
    width = std::max(width, d.name().size());
  }
  PrintLine(fmt::format("{:<{}}  {:<10}  {:>10}  {:>10}  {:>4}  {:<12}  {}",
                        "NAME", width, "FORMAT", "SIZE", "ROWS", "DIMS",
                        "SHA256", "CREATED"));
  for (const v1::Dataset& d : response.datasets()) {
    std::string created = FormatTime(d.create_time());
    if (created.size() > 19) created.resize(19);
    PrintLine(
        fmt::format("{:<{}}  {:<10}  {:>10}  {:>10}  {:>4}  {:<12}  {}",
                    d.name(), width, v1::DatasetFormat_Name(d.format()),
                    FormatBytes(static_cast<double>(d.size_bytes())), d.rows(),
                    d.dims() == 0 ? std::string("-") : std::to_string(d.dims()),
                    d.sha256().substr(0, 12), created));
  }
  return kExitOk;
}

int Remove(const GlobalOptions& global, const DatasetFlags& flags) {
  auto stub = Stub(global);
  int exit = kExitOk;
  for (const std::string& name : flags.names) {
    grpc::ClientContext context;
    SetDeadline(global, context);
    v1::DeleteDatasetRequest request;
    request.set_name(name);
    v1::Dataset deleted;
    grpc::Status status = stub->DeleteDataset(&context, request, &deleted);
    if (!status.ok()) {
      exit = RpcError(Annotate(global, status));
      continue;
    }
    PrintLine(global.json ? ToJson(deleted, true) : "deleted " + name);
  }
  return exit;
}

}  // namespace

CLI::App* AddDatasetCommands(CLI::App& app, DatasetFlags& flags) {
  CLI::App* dataset = app.add_subcommand(
      "dataset", "upload, list and delete datasets for the analytics jobs");
  dataset->require_subcommand(1);

  CLI::App* upload =
      dataset->add_subcommand("upload", "upload a file as a named dataset");
  upload->add_option("file", flags.file, "the file, or - for stdin")
      ->required();
  upload->add_option("--name", flags.name,
                     "dataset name, [A-Za-z0-9._-]{1,128} (default: the "
                     "file's name)");
  upload
      ->add_option("--format", flags.format,
                   "text, csv, points_f64 or points_csv")
      ->required();
  upload->add_option("--dims", flags.dims,
                     "coordinates per point (points_f64; optional for "
                     "points_csv)");
  upload
      ->add_option("--chunk_bytes", flags.chunk_bytes,
                   "bytes per message, at most 1 MiB")
      ->capture_default_str();
  upload->add_flag("-q,--quiet", flags.quiet, "no progress on stderr");
  upload->footer(kUploadFooter);

  dataset->add_subcommand("list", "list the stored datasets");
  CLI::App* rm = dataset->add_subcommand(
      "rm", "delete datasets (refused while a queued or running job uses one)");
  rm->add_option("name", flags.names, "dataset names")->required();
  return dataset;
}

int DatasetCommand(const GlobalOptions& global, const CLI::App& dataset,
                   const DatasetFlags& flags) {
  if (dataset.got_subcommand("upload")) return Upload(global, flags);
  if (dataset.got_subcommand("list")) return List(global);
  if (dataset.got_subcommand("rm")) return Remove(global, flags);
  return kExitUsage;
}

}  // namespace impulse::cli
