#include "embed/remote_embedder.h"

#include <httplib.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>
#include <vector>

#include "core/http_peer.h"
#include "core/strings.h"

namespace ragline::embed {
namespace {

using nlohmann::json;

bool Retryable(int http_status) { return http_status == 429 || http_status >= 500; }

}  // namespace

Result<std::unique_ptr<RemoteEmbedder>> RemoteEmbedder::Create(RemoteEmbedderOptions options) {
  if (options.model.empty()) {
    return absl::InvalidArgumentError("remote embedder: model must be set");
  }
  if (options.max_batch == 0) {
    return absl::InvalidArgumentError("remote embedder: max_batch must be > 0");
  }
  ASSIGN_OR_RETURN(BaseUrl url, SplitBaseUrl(options.base_url, "embedder base_url"));
  std::unique_ptr<RemoteEmbedder> embedder(
      new RemoteEmbedder(std::move(options), std::move(url.scheme_host_port), url.path + "/embeddings"));
  if (embedder->options_.dim == 0) {
    std::vector<std::string> probe_text = {"dimension probe"};
    Matrix probe;  // 0 columns: EmbedBatch sizes it from the answer
    RETURN_IF_ERROR(embedder->EmbedBatch(probe_text, 0, 1, &probe));
    embedder->options_.dim = probe.cols();
  }
  return embedder;
}

RemoteEmbedder::RemoteEmbedder(RemoteEmbedderOptions options, std::string scheme_host_port, std::string path)
    : options_(std::move(options)),
      scheme_host_port_(std::move(scheme_host_port)),
      path_(std::move(path)),
      breaker_(std::make_unique<resilience::CircuitBreaker>("embedder", options_.breaker)) {}

Result<Matrix> RemoteEmbedder::Embed(std::span<const std::string> texts) {
  if (texts.empty()) return Matrix(0, options_.dim);
  Matrix out(texts.size(), options_.dim);
  for (size_t begin = 0; begin < texts.size(); begin += options_.max_batch) {
    size_t end = std::min(texts.size(), begin + options_.max_batch);
    RETURN_IF_ERROR(EmbedBatch(texts, begin, end, &out));
  }
  return out;
}

Status RemoteEmbedder::EmbedBatch(std::span<const std::string> texts, size_t begin, size_t end,
                                  Matrix* out) const {
  json request = {{"model", options_.model}, {"encoding_format", "float"}};
  json& input = request["input"] = json::array();
  for (size_t i = begin; i < end; ++i) input.push_back(texts[i]);
  std::string body = request.dump(-1, ' ', false, json::error_handler_t::replace);
  std::string where = StrCat("embeddings server ", scheme_host_port_, path_);

  httplib::Client client(scheme_host_port_);
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(options_.timeout);
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(options_.timeout - seconds);
  client.set_connection_timeout(seconds.count(), micros.count());
  client.set_read_timeout(seconds.count(), micros.count());
  client.set_write_timeout(seconds.count(), micros.count());
  httplib::Headers headers;
  if (!options_.api_key.empty()) {
    headers.emplace("Authorization", StrCat("Bearer ", options_.api_key));
  }

  httplib::Result response(nullptr, httplib::Error::Unknown);
  RETURN_IF_ERROR(breaker_->Call([&] {
    return resilience::Retry(options_.retry, resilience::Deadline::Never(), [&](int) -> Status {
      response = client.Post(path_, headers, body, "application/json");
      if (!response) return absl::UnavailableError(StrCat(where, ": ", httplib::to_string(response.error())));
      if (response->status == 200) return absl::OkStatus();
      std::string message =
          StrCat(where, ": HTTP ", std::to_string(response->status), ": ", PeerErrorMessage(response->body));
      return Retryable(response->status) ? absl::UnavailableError(message)
                                         : absl::FailedPreconditionError(message);
    });
  }));

  json doc = json::parse(response->body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("data") || !doc["data"].is_array()) {
    return absl::DataLossError(StrCat(where, ": response is not an embeddings list"));
  }
  const json& data = doc["data"];
  size_t count = end - begin;
  if (data.size() != count) {
    return absl::DataLossError(StrCat(where, ": sent ", std::to_string(count), " inputs, got ",
                                      std::to_string(data.size()), " embeddings"));
  }
  std::vector<bool> seen(count, false);
  for (size_t j = 0; j < data.size(); ++j) {
    const json& item = data[j];
    size_t index = j;
    if (item.contains("index")) {
      if (!item["index"].is_number_unsigned() || item["index"].get<size_t>() >= count) {
        return absl::DataLossError(
            StrCat(where, ": data[", std::to_string(j), "].index is not an input position"));
      }
      index = item["index"].get<size_t>();
    }
    if (seen[index]) {
      return absl::DataLossError(StrCat(where, ": two embeddings for input ", std::to_string(index)));
    }
    seen[index] = true;
    if (!item.contains("embedding") || !item["embedding"].is_array() || item["embedding"].empty()) {
      return absl::DataLossError(StrCat(where, ": data[", std::to_string(j),
                                        "] has no embedding array (only float format is "
                                        "supported)"));
    }
    const json& vec = item["embedding"];
    if (out->cols() == 0) *out = Matrix(texts.size(), vec.size());
    if (vec.size() != out->cols()) {
      return absl::DataLossError(StrCat(where, ": embedding of width ", std::to_string(vec.size()),
                                        ", expected ", std::to_string(out->cols())));
    }
    std::span<float> row = out->row(begin + index);
    for (size_t d = 0; d < vec.size(); ++d) {
      if (!vec[d].is_number()) {
        return absl::DataLossError(StrCat(where, ": embedding value is not a number"));
      }
      float v = vec[d].get<float>();
      if (!std::isfinite(v)) {
        return absl::DataLossError(StrCat(where, ": embedding has a non-finite value"));
      }
      row[d] = v;
    }
  }
  return absl::OkStatus();
}

}  // namespace ragline::embed
