#include <string>
#include <vector>

#include "tally/device/app.hpp"

int main(int argc, char** argv) {
  return tally::device::run(std::vector<std::string>(argv + 1, argv + argc));
}
