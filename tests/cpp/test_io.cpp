// Tests of caffe/util/io: prototxt and binary reading with useful errors, atomic writes.

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <regex>
#include <string>
#include <vector>

#include "caffe/core/common.hpp"
#include "caffe/util/io.hpp"
#include "tests/cpp/test_util.hpp"

namespace caffe {
namespace {

using test::error_of;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class IoTest : public testing::Test {
 protected:
  std::string file(const std::string& name) const { return dir_ / name; }
  std::vector<std::string> entries() const { return dir_.entries(); }

  test::TempDir dir_;
};

TEST_F(IoTest, TextParseErrorHasFileLineAndColumn) {
  const std::string path = file("bad.prototxt");
  write_file_atomically(path, "name: \"n\"\nlayer {\n  name: \"a\"\n  bottom: \"x\" colour: 3\n}\n");
  NetParameter param;
  const std::string message = error_of([&] { read_proto_from_text_file(path, &param); });
  // path:line:column: with 1-based numbers (protobuf points just past the unknown name).
  EXPECT_TRUE(std::regex_search(message, std::regex(":4:(1[5-9]|2[0-2]): "))) << message;
  EXPECT_TRUE(contains(message, path + ":4:")) << message;
  EXPECT_TRUE(contains(message, "colour")) << message;
  write_file_atomically(path, "force_backward: maybe name: \"n\"\n");
  const std::string value_error = error_of([&] { read_proto_from_text_file(path, &param); });
  EXPECT_TRUE(std::regex_search(value_error, std::regex(":1:(1[6-9]|2[0-9]): "))) << value_error;
  EXPECT_TRUE(contains(value_error, "force_backward")) << value_error;
}

TEST_F(IoTest, TextErrorNamesTheOrigin) {
  LayerParameter param;
  const std::string message = error_of([&] { read_proto_from_text("name: 3 3", "<inline>", &param); });
  EXPECT_TRUE(contains(message, "<inline>:1:")) << message;
  const std::string unclosed = error_of([&] { read_proto_from_text("a {\n", "<inline>", &param); });
  EXPECT_TRUE(contains(unclosed, "<inline>:")) << unclosed;
}

TEST_F(IoTest, TextRoundTrip) {
  NetParameter param;
  param.set_name("round");
  param.add_layer()->set_type("Input");
  param.mutable_layer(0)->add_top("data");
  write_proto_to_text_file(param, file("net.prototxt"));
  const NetParameter read = read_net_param(file("net.prototxt"));
  EXPECT_EQ(read.SerializeAsString(), param.SerializeAsString());
}

TEST_F(IoTest, BinaryRoundTripAndTruncation) {
  NetParameter param;
  param.set_name("binary");
  BlobProto* blob = param.add_layer()->add_blobs();
  for (int i = 0; i < 100; ++i) blob->add_data(0.5f * i);
  const std::string path = file("model.caffemodel");
  write_proto_to_binary_file(param, path);
  NetParameter read;
  read_proto_from_binary_file(path, &read);
  EXPECT_EQ(read.SerializeAsString(), param.SerializeAsString());

  const std::string bytes = read_file(path);
  write_file_atomically(path, bytes.substr(0, bytes.size() - 7));
  const std::string message = error_of([&] { read_proto_from_binary_file(path, &read); });
  EXPECT_TRUE(contains(message, path)) << message;
  EXPECT_TRUE(contains(message, "truncated")) << message;
}

TEST_F(IoTest, ReadingAMissingFileNamesIt) {
  const std::string path = file("absent.prototxt");
  const std::string message = error_of([&] { read_file(path); });
  EXPECT_TRUE(contains(message, path)) << message;
  EXPECT_TRUE(contains(message, "No such file")) << message;
}

TEST_F(IoTest, ReadingADirectoryIsAnError) {
  const std::string message = error_of([&] { read_net_param(dir_.path()); });
  EXPECT_TRUE(contains(message, dir_.path())) << message;
  EXPECT_TRUE(contains(message, "directory")) << message;
}

TEST_F(IoTest, LegacyV1NetIsUpgraded) {
  const std::string path = file("v1.prototxt");
  write_file_atomically(path, "layers { name: \"ip\" type: INNER_PRODUCT blobs_lr: 2 }\n");
  const NetParameter param = read_net_param(path);
  EXPECT_EQ(param.layers_size(), 0);
  ASSERT_EQ(param.layer_size(), 1);
  EXPECT_EQ(param.layer(0).name(), "ip");
  EXPECT_EQ(param.layer(0).type(), "InnerProduct");
  ASSERT_EQ(param.layer(0).param_size(), 1);
  EXPECT_FLOAT_EQ(param.layer(0).param(0).lr_mult(), 2);
}

TEST_F(IoTest, SolverParamIsRead) {
  write_file_atomically(file("solver.prototxt"), "base_lr: 0.01\nmax_iter: 10\n");
  const SolverParameter solver = read_solver_param(file("solver.prototxt"));
  EXPECT_FLOAT_EQ(solver.base_lr(), 0.01f);
  EXPECT_EQ(solver.max_iter(), 10);
  write_file_atomically(file("bad_solver.prototxt"), "base_lr: 0.01\nmax_iter: ten\n");
  EXPECT_TRUE(contains(error_of([&] { read_solver_param(file("bad_solver.prototxt")); }), ":2:"));
}

TEST_F(IoTest, AtomicWriteReplacesTheWholeFile) {
  const std::string path = file("out.bin");
  write_file_atomically(path, std::string(1000, 'a'));
  write_file_atomically(path, "short");
  EXPECT_EQ(read_file(path), "short");
  EXPECT_EQ(entries(), (std::vector<std::string>{"out.bin"})) << "no temporary file left behind";
  write_file_atomically(path, "");
  EXPECT_EQ(read_file(path), "");
}

TEST_F(IoTest, AtomicWriteIntoAMissingDirectoryIsAnError) {
  const std::string path = file("no/such/dir/out.bin");
  const std::string message = error_of([&] { write_file_atomically(path, "data"); });
  EXPECT_TRUE(contains(message, path)) << message;
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST_F(IoTest, FailedAtomicWriteLeavesTheTargetAndNoTemporary) {
  // The target is a non-empty directory: the temporary is written, the rename fails.
  std::filesystem::create_directory(file("target"));
  write_file_atomically(file("target/inside"), "kept");
  const std::string message = error_of([&] { write_file_atomically(file("target"), "data"); });
  EXPECT_TRUE(contains(message, file("target"))) << message;
  EXPECT_EQ(entries(), (std::vector<std::string>{"target"}));
  EXPECT_EQ(read_file(file("target/inside")), "kept");
}

TEST_F(IoTest, AtomicWriteOfTheLongestFileName) {
  const std::string name(255, 'n');  // NAME_MAX: the temporary's name must not be longer
  write_file_atomically(file(name), "long");
  EXPECT_EQ(read_file(file(name)), "long");
  EXPECT_EQ(entries(), (std::vector<std::string>{name}));
}

TEST_F(IoTest, AtomicWriteInTheCurrentDirectory) {
  const std::filesystem::path saved = std::filesystem::current_path();
  std::filesystem::current_path(dir_.path());
  write_file_atomically("relative.txt", "here");
  std::filesystem::current_path(saved);
  EXPECT_EQ(read_file(file("relative.txt")), "here");
  EXPECT_EQ(entries(), (std::vector<std::string>{"relative.txt"}));
}

}  // namespace
}  // namespace caffe
