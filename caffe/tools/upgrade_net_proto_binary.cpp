// upgrade_net_proto_binary V0_OR_V1_NET_BINARYPROTO OUT_BINARYPROTO: rewrites an old-format binary
// net (a model-zoo V1 .caffemodel, say) in the current format, weights included.
#include "caffe/core/net_upgrade.hpp"
#include "caffe/tools/upgrade_tool.hpp"
#include "caffe/util/io.hpp"

int main(int argc, char** argv) {
  return caffe::tools::upgrade_tool_main(
      argc, argv, "upgrade_net_proto_binary",
      "rewrites a V0 or V1 binary net (.caffemodel) in the current format",
      "V0_OR_V1_NET_BINARYPROTO OUT_BINARYPROTO",
      [](const std::string& in, const std::string& out) {
        caffe::NetParameter net;
        caffe::read_proto_from_binary_file(in, &net);
        const std::vector<std::string> done = caffe::upgrade_net(&net);
        if (net.layer_size() == 0) caffe::fail("'", in, "' holds no layers: is it a net?");
        caffe::write_proto_to_binary_file(net, out);
        return done;
      });
}
