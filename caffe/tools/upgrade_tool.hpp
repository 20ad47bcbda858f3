// The shared main of the upgrade_*_proto_* tools: IN OUT arguments, the upgrade, OUT written
// atomically, and every error as one line "<tool>: <message>" on stderr with exit status 1.
#pragma once

#include <gflags/gflags.h>

#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "caffe/core/common.hpp"

namespace caffe::tools {

// `upgrade(in, out)` reads IN, writes OUT and returns what it upgraded (empty: IN was current).
using UpgradeFile =
    std::function<std::vector<std::string>(const std::string& in, const std::string& out)>;

inline int upgrade_tool_main(int argc, char** argv, const std::string& tool,
                             const std::string& description, const std::string& arguments,
                             const UpgradeFile& upgrade) {
  gflags::SetUsageMessage(description + "\nUsage: " + tool + " " + arguments);
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  try {
    if (argc != 3) fail("expected 2 arguments (", arguments, "), got ", argc - 1, "; see --help");
    const std::string in = argv[1];
    const std::string out = argv[2];
    std::vector<std::string> done;
    try {
      done = upgrade(in, out);
    } catch (const Error& error) {
      // Reading errors name the file already; upgrade errors name only the layer.
      const std::string message = error.what();
      if (message.find(in) == std::string::npos) fail(in, ": ", message);
      throw;
    }
    if (done.empty()) {
      std::cout << in << " is already in the current format; wrote it unchanged to " << out
                << std::endl;
    } else {
      std::cout << "Upgraded " << in << ":\n";
      for (const std::string& line : done) std::cout << "  " << line << "\n";
      std::cout << "Wrote " << out << std::endl;
    }
  } catch (const Error& error) {
    std::cerr << tool << ": " << error.what() << std::endl;
    return 1;
  }
  return 0;
}

}  // namespace caffe::tools
