// Static UI assets embedded at build time by ui/embed_assets.cmake.
#pragma once

#include <string_view>
#include <vector>

namespace tally::ui {

struct Asset {
  std::string_view path;  // "/index.html"
  std::string_view body;
};

const std::vector<Asset>& assets();

}  // namespace tally::ui
