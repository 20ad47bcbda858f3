// upgrade_net_proto_text V0_OR_V1_NET_PROTOTXT OUT_PROTOTXT: rewrites an old-format net prototxt
// (V0 or V1 layers, net-level inputs, legacy data-layer fields) in the current format.
#include "caffe/core/net_upgrade.hpp"
#include "caffe/tools/upgrade_tool.hpp"
#include "caffe/util/io.hpp"

int main(int argc, char** argv) {
  return caffe::tools::upgrade_tool_main(
      argc, argv, "upgrade_net_proto_text",
      "rewrites a V0 or V1 net prototxt in the current format",
      "V0_OR_V1_NET_PROTOTXT OUT_PROTOTXT", [](const std::string& in, const std::string& out) {
        caffe::NetParameter net;
        caffe::read_proto_from_text_file(in, &net);
        const std::vector<std::string> done = caffe::upgrade_net(&net);
        if (net.layer_size() == 0) caffe::fail("'", in, "' holds no layers: is it a net?");
        caffe::write_proto_to_text_file(net, out);
        return done;
      });
}
