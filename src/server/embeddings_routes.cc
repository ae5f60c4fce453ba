#include "server/embeddings_routes.h"

#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "core/json_fields.h"
#include "core/strings.h"

namespace ragline::server {
namespace {

using nlohmann::json;

// "input" as the model's inputs ([CLS] ... [SEP]), one per embedding.
Result<std::vector<std::vector<int32_t>>> ParseInput(const json& input, const embed::LocalEmbedder& embedder) {
  auto token_ids = [&](const json& array, const std::string& where) -> Result<std::vector<int32_t>> {
    if (array.empty()) return absl::InvalidArgumentError(StrCat("\"", where, "\" is empty"));
    std::vector<int32_t> pieces;
    pieces.reserve(array.size());
    for (const json& id : array) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX) {
        return absl::InvalidArgumentError(StrCat("\"", where, "\" must hold token ids (integers >= 0)"));
      }
      pieces.push_back(static_cast<int32_t>(id.get<int64_t>()));
    }
    auto ids = embedder.InputIds(pieces);
    if (!ids.ok()) return absl::InvalidArgumentError(StrCat("\"", where, "\": ", std::string(ids.status().message())));
    return ids;
  };
  auto text = [&](const json& s, const std::string& where) -> Result<std::vector<int32_t>> {
    if (s.get_ref<const std::string&>().empty()) {
      return absl::InvalidArgumentError(StrCat("\"", where, "\" is an empty string"));
    }
    return embedder.InputIds(s.get_ref<const std::string&>());
  };
  constexpr char kShape[] =
      "\"input\" must be a string, an array of strings, an array of token ids or an array of such arrays";
  std::vector<std::vector<int32_t>> out;
  if (input.is_string()) {
    ASSIGN_OR_RETURN(auto ids, text(input, "input"));
    out.push_back(std::move(ids));
    return out;
  }
  if (!input.is_array() || input.empty()) {
    return absl::InvalidArgumentError(input.is_array() ? "\"input\" is empty" : kShape);
  }
  if (input.front().is_number()) {  // one text as token ids
    ASSIGN_OR_RETURN(auto ids, token_ids(input, "input"));
    out.push_back(std::move(ids));
    return out;
  }
  if (input.size() > kMaxEmbeddingInputs) {
    return absl::InvalidArgumentError(StrCat("\"input\" has ", input.size(), " items; at most ",
                                             kMaxEmbeddingInputs, " per request"));
  }
  out.reserve(input.size());
  for (size_t i = 0; i < input.size(); ++i) {
    const std::string where = StrCat("input[", i, "]");
    if (input[i].is_string()) {
      ASSIGN_OR_RETURN(auto ids, text(input[i], where));
      out.push_back(std::move(ids));
    } else if (input[i].is_array()) {
      ASSIGN_OR_RETURN(auto ids, token_ids(input[i], where));
      out.push_back(std::move(ids));
    } else {
      return absl::InvalidArgumentError(kShape);
    }
  }
  return out;
}

// The served model's names: its id, and the Hugging Face name users copy.
bool NamesModel(const std::string& name, const std::string& model_id) {
  return name == model_id || name == StrCat("sentence-transformers/", model_id);
}

class EmbeddingsRoutes {
 public:
  EmbeddingsRoutes(Server& server, embed::LocalEmbedder& embedder) : server_(server), embedder_(embedder) {}

  void Register() {
    server_.AddRoute({"POST", "/v1/embeddings", Access::kRead, -1, [this](RouteRequest& r) { return Embed(r); }});
  }

 private:
  Result<json> Embed(RouteRequest& r) {
    ASSIGN_OR_RETURN(json body, r.JsonBody());
    RETURN_IF_ERROR(RefuseUnknownFields(body, {"input", "model", "encoding_format", "dimensions", "user"}, ""));
    if (!body.contains("input")) return absl::InvalidArgumentError("\"input\" is required");
    if (auto model = body.find("model"); model != body.end()) {
      if (!model->is_string()) return absl::InvalidArgumentError("\"model\" must be a string");
      if (!NamesModel(model->get<std::string>(), embedder_.model_id())) {
        return absl::NotFoundError(StrCat("model '", model->get<std::string>(), "' is not served here; this server embeds with '",
                                          embedder_.model_id(), "' (GET /v1/models)"));
      }
    }
    const std::string format = body.value("encoding_format", json("float")).is_string()
                                   ? body.value("encoding_format", std::string("float"))
                                   : std::string("?");
    if (format != "float" && format != "base64") {
      return absl::InvalidArgumentError("\"encoding_format\" must be \"float\" or \"base64\"");
    }
    if (auto dims = body.find("dimensions"); dims != body.end()) {
      if (!dims->is_number_integer() || dims->get<int64_t>() != static_cast<int64_t>(embedder_.dim())) {
        return absl::InvalidArgumentError(StrCat("\"dimensions\": ", embedder_.model_id(), " makes embeddings of ",
                                                 embedder_.dim(), " dimensions and cannot shorten them"));
      }
    }
    if (body.contains("user") && !body["user"].is_string()) {
      return absl::InvalidArgumentError("\"user\" must be a string");
    }
    ASSIGN_OR_RETURN(std::vector<std::vector<int32_t>> inputs, ParseInput(body["input"], embedder_));
    size_t tokens = 0;
    for (const auto& ids : inputs) tokens += ids.size();

    ASSIGN_OR_RETURN(resilience::Deadline deadline, server_.QueryDeadline(r, std::nullopt));
    ASSIGN_OR_RETURN(auto slot, server_.AdmitQuery(deadline));
    ASSIGN_OR_RETURN(Matrix vectors, embedder_.EmbedInputIds(std::move(inputs)));

    json data = json::array();
    for (size_t i = 0; i < vectors.rows(); ++i) {
      const auto row = vectors.row(i);
      json embedding;
      if (format == "base64") {  // the float32 bytes, little-endian (as x86 and ARM store them)
        std::string bytes(row.size() * sizeof(float), '\0');
        std::memcpy(bytes.data(), row.data(), bytes.size());
        embedding = absl::Base64Escape(bytes);
      } else {
        embedding = json(std::vector<float>(row.begin(), row.end()));
      }
      data.push_back({{"object", "embedding"}, {"index", i}, {"embedding", std::move(embedding)}});
    }
    return json{{"object", "list"},
                {"data", std::move(data)},
                {"model", embedder_.model_id()},
                {"usage", {{"prompt_tokens", tokens}, {"total_tokens", tokens}}}};
  }

  Server& server_;
  embed::LocalEmbedder& embedder_;
};

}  // namespace

void RegisterEmbeddingsRoutes(Server& server, embed::LocalEmbedder& embedder) {
  auto routes = std::make_shared<EmbeddingsRoutes>(server, embedder);
  routes->Register();
  server.KeepAlive(routes);
}

}  // namespace ragline::server
