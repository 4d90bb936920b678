// Looking up embedded assets (see assets.hpp).
#include "assets.hpp"

namespace tally::ui {

std::string_view content_type_for(std::string_view path) {
  const auto dot = path.rfind('.');
  const std::string_view ext = dot == std::string_view::npos ? std::string_view{} : path.substr(dot);
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".json") return "application/json";
  if (ext == ".webmanifest") return "application/manifest+json";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".ico") return "image/x-icon";
  if (ext == ".txt") return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

const Asset* find_asset(const std::vector<Asset>& set, std::string_view path) {
  if (path == "/") path = "/index.html";
  for (const Asset& asset : set) {
    if (asset.path == path) return &asset;
  }
  return nullptr;
}

}  // namespace tally::ui
