// Static UI assets embedded at build time by ui/embed_assets.cmake.
#pragma once

#include <string_view>
#include <vector>

namespace tally::ui {

struct Asset {
  std::string_view path;  // "/index.html"
  std::string_view body;
};

const std::vector<Asset>& assets();         // the handheld/dock UI (tallyd)
const std::vector<Asset>& ledger_assets();  // the ledger dashboard (tally-ledger)

// The asset at `path` ("/" is "/index.html") in `set`, or null.
const Asset* find_asset(const std::vector<Asset>& set, std::string_view path);
// The Content-Type for an asset path, by its extension.
std::string_view content_type_for(std::string_view path);

}  // namespace tally::ui
