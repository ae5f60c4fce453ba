#include "cli/embed_command.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cli/io.h"
#include "core/strings.h"
#include "embed/local_embedder.h"
#include "embed/remote_embedder.h"

namespace ragline::cli {
namespace {

using nlohmann::json;

struct EmbedArgs {
  std::string model = "";
  std::string remote_url;
  std::string remote_model;
  std::string input = "auto";    // auto | text | jsonl
  std::string format = "jsonl";  // jsonl | npy | fvecs
  std::string out;
  std::string file;
  std::string precision = "auto";
  size_t threads = 0;
  size_t batch = 256;
};

// Where embeddings go: JSON lines on stdout, or a .npy / .fvecs file.
class EmbeddingWriter {
 public:
  static Result<std::unique_ptr<EmbeddingWriter>> Open(const std::string& format, const std::string& path) {
    auto w = std::unique_ptr<EmbeddingWriter>(new EmbeddingWriter(format));
    if (format == "jsonl") {
      if (!path.empty() && path != "-") {
        w->file_ = std::fopen(path.c_str(), "wb");
        if (w->file_ == nullptr) {
          return absl::NotFoundError(StrCat("cannot create ", path, ": ", std::strerror(errno)));
        }
      }
      return w;
    }
    if (format != "npy" && format != "fvecs") {
      return absl::InvalidArgumentError(StrCat("--format must be jsonl, npy or fvecs, not '", format, "'"));
    }
    if (path.empty() || path == "-") {
      return absl::InvalidArgumentError(StrCat("--format ", format, " needs --out FILE"));
    }
    w->file_ = std::fopen(path.c_str(), "wb");
    if (w->file_ == nullptr) {
      return absl::NotFoundError(StrCat("cannot create ", path, ": ", std::strerror(errno)));
    }
    if (format == "npy") RETURN_IF_ERROR(w->WriteNpyHeader(0, 0));
    return w;
  }
  ~EmbeddingWriter() {
    if (file_ != nullptr) std::fclose(file_);
  }

  // Writes rows; ids[i] (may be null) is echoed in JSON lines.
  Status Write(const Matrix& m, const std::vector<std::optional<json>>& ids) {
    for (size_t r = 0; r < m.rows(); ++r) {
      std::span<const float> row = m.row(r);
      if (format_ == "jsonl") {
        json line;
        if (ids[r]) line["id"] = *ids[r];
        line["embedding"] = std::vector<float>(row.begin(), row.end());
        std::string text = line.dump();
        text.push_back('\n');
        RETURN_IF_ERROR(Put(text.data(), text.size()));
      } else if (format_ == "fvecs") {
        int32_t d = static_cast<int32_t>(row.size());
        RETURN_IF_ERROR(Put(&d, sizeof(d)));
        RETURN_IF_ERROR(Put(row.data(), row.size_bytes()));
      } else {
        RETURN_IF_ERROR(Put(row.data(), row.size_bytes()));
      }
    }
    rows_ += m.rows();
    if (m.rows() > 0) cols_ = m.cols();
    std::fflush(out());
    return absl::OkStatus();
  }

  // Completes the file (the .npy header learns the final shape).
  Status Finish() {
    if (format_ == "npy") {
      if (std::fseek(file_, 0, SEEK_SET) != 0) return IoError();
      RETURN_IF_ERROR(WriteNpyHeader(rows_, cols_));
    }
    if (file_ != nullptr) {
      int rc = std::fclose(file_);
      file_ = nullptr;
      if (rc != 0) return IoError();
    }
    return absl::OkStatus();
  }

 private:
  explicit EmbeddingWriter(std::string format) : format_(std::move(format)) {}
  FILE* out() { return file_ != nullptr ? file_ : stdout; }
  Status IoError() { return absl::InternalError(StrCat("writing output: ", std::strerror(errno))); }
  Status Put(const void* data, size_t size) {
    if (std::fwrite(data, 1, size, out()) != size) return IoError();
    return absl::OkStatus();
  }
  // NPY v1.0 with a fixed 128-byte header, so it can be rewritten in place.
  Status WriteNpyHeader(size_t rows, size_t cols) {
    std::string dict = StrCat("{'descr': '<f4', 'fortran_order': False, 'shape': (", std::to_string(rows),
                              ", ", std::to_string(cols), "), }");
    std::string header = "\x93NUMPY";
    header.push_back(1);
    header.push_back(0);
    const size_t total = 128;
    uint16_t len = static_cast<uint16_t>(total - 10);
    header.push_back(static_cast<char>(len & 0xff));
    header.push_back(static_cast<char>(len >> 8));
    header += dict;
    header.append(total - 1 - header.size(), ' ');
    header.push_back('\n');
    return Put(header.data(), header.size());
  }

  std::string format_;
  FILE* file_ = nullptr;
  size_t rows_ = 0;
  size_t cols_ = 0;
};

Result<std::unique_ptr<embed::Embedder>> MakeEmbedder(const EmbedArgs& args, ThreadPool* pool) {
  if (!args.remote_url.empty()) {
    ASSIGN_OR_RETURN(auto remote, OpenRemoteEmbedder(args.remote_url, args.remote_model, args.batch));
    return std::unique_ptr<embed::Embedder>(std::move(remote));
  }
  ASSIGN_OR_RETURN(auto options, EncoderOptions(args.precision));
  ASSIGN_OR_RETURN(auto local, OpenModel(args.model, options, pool));
  return std::unique_ptr<embed::Embedder>(std::move(local));
}

int RunEmbed(const EmbedArgs& args) {
  if (args.input != "auto" && args.input != "text" && args.input != "jsonl") {
    return Fail(StrCat("--input must be auto, text or jsonl, not '", args.input, "'"));
  }
  if (args.batch == 0) return Fail("--batch must be > 0");
  // ParallelFor runs on the workers and the calling thread: T threads = T-1 workers.
  size_t threads = args.threads == 0 ? std::thread::hardware_concurrency() : args.threads;
  std::unique_ptr<ThreadPool> pool;
  if (threads > 1) pool = std::make_unique<ThreadPool>(threads - 1);
  auto embedder = MakeEmbedder(args, pool.get());
  if (!embedder.ok()) return Fail(embedder.status());
  auto writer = EmbeddingWriter::Open(args.format, args.out);
  if (!writer.ok()) return Fail(writer.status());
  auto fd = OpenInput(args.file);
  if (!fd.ok()) return Fail(fd.status());

  std::string mode = args.input;
  std::vector<std::string> texts;
  std::vector<std::optional<json>> ids;
  size_t embedded = 0;
  auto start = std::chrono::steady_clock::now();
  auto flush = [&]() -> Status {
    if (texts.empty()) return absl::OkStatus();
    ASSIGN_OR_RETURN(Matrix m, (*embedder)->Embed(texts));
    RETURN_IF_ERROR((*writer)->Write(m, ids));
    embedded += texts.size();
    texts.clear();
    ids.clear();
    return absl::OkStatus();
  };
  auto on_line = [&](std::string& line, size_t line_no) -> Status {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (mode == "auto") mode = (!line.empty() && line.front() == '{') ? "jsonl" : "text";
    if (mode == "text") {
      texts.push_back(std::move(line));
      ids.emplace_back();
      return absl::OkStatus();
    }
    if (line.find_first_not_of(" \t") == std::string::npos) return absl::OkStatus();
    json doc = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded() || !doc.is_object()) {
      return absl::InvalidArgumentError(StrCat("line ", std::to_string(line_no), ": not a JSON object"));
    }
    if (!doc.contains("text") || !doc["text"].is_string()) {
      return absl::InvalidArgumentError(
          StrCat("line ", std::to_string(line_no), ": \"text\" must be a string"));
    }
    texts.push_back(doc["text"].get<std::string>());
    ids.push_back(doc.contains("id") ? std::optional<json>(doc["id"]) : std::nullopt);
    return absl::OkStatus();
  };
  // Everything before a bad line is still embedded and written (Finish makes the file whole).
  const Status pumped = PumpLines(
      *fd, 50, on_line, [&] { return texts.size() >= args.batch; }, flush);
  const int rc = pumped.ok() ? 0 : Fail(pumped);
  if (Status st = (*writer)->Finish(); !st.ok()) return Fail(st);
  if (*fd != 0) ::close(*fd);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "embed: %zu texts with %s in %.2f s (%.1f texts/s)\n", embedded,
               (*embedder)->description().c_str(), seconds,
               seconds > 0 ? static_cast<double>(embedded) / seconds : 0.0);
  return rc;
}

}  // namespace

void AddEmbedCommand(CLI::App& app, int* rc) {
  auto args = std::make_shared<EmbedArgs>();
  auto* cmd = app.add_subcommand(
      "embed", "embed texts: lines (or JSONL {\"text\"}) on stdin -> {\"embedding\": [...]} lines");
  cmd->add_option("--model", args->model, kModelHelp);
  cmd->add_option("--remote", args->remote_url,
                  "use an OpenAI-compatible server instead, e.g. http://host:8080/v1 "
                  "(key from $RAGLINE_EMBED_API_KEY or $OPENAI_API_KEY)");
  cmd->add_option("--remote-model", args->remote_model, "model name sent to --remote");
  cmd->add_option("--file", args->file, "read input from this file instead of stdin");
  cmd->add_option("--input", args->input, "auto | text | jsonl")->capture_default_str();
  cmd->add_option("--format", args->format, "jsonl | npy | fvecs")->capture_default_str();
  cmd->add_option("--out", args->out, "output file (required for npy and fvecs)");
  cmd->add_option("--precision", args->precision, "auto | fp32 | int8 (docs/embedding.md)")->capture_default_str();
  cmd->add_option("--threads", args->threads, "worker threads (0 = all cores)");
  cmd->add_option("--batch", args->batch, "texts per encoder call")->capture_default_str();
  cmd->callback([args, rc] {
    if (!args->remote_url.empty() && args->remote_model.empty()) {
      *rc = Fail("--remote needs --remote-model");
      return;
    }
    *rc = RunEmbed(*args);
  });
}

}  // namespace ragline::cli
