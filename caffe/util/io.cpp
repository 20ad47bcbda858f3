#include "caffe/util/io.hpp"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/text_format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "caffe/core/common.hpp"
#include "caffe/core/net_upgrade.hpp"

namespace caffe {
namespace {

// Collects the first parse error with its position (protobuf reports 0-based lines/columns).
class FirstErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (!has_error_) {
      has_error_ = true;
      line_ = line + 1;
      column_ = column + 1;
      message_ = message;
    }
  }
  void AddWarning(int, int, const std::string&) override {}
  bool has_error() const { return has_error_; }
  std::string describe(const std::string& origin) const {
    std::ostringstream out;
    out << origin << ":" << line_ << ":" << column_ << ": " << message_;
    return out.str();
  }

 private:
  bool has_error_ = false;
  int line_ = 0;
  int column_ = 0;
  std::string message_;
};

std::string directory_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

}  // namespace

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open '", path, "': ", std::strerror(errno));
  // A directory opens and reads as empty: it would pass for an empty prototxt.
  struct stat info;
  if (::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode)) {
    fail("cannot read '", path, "': it is a directory");
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) fail("error reading '", path, "'");
  return contents.str();
}

void read_proto_from_text(const std::string& text, const std::string& origin,
                          google::protobuf::Message* message) {
  FirstErrorCollector errors;
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(text, message)) {
    if (errors.has_error()) fail("syntax error in ", errors.describe(origin));
    fail("cannot parse ", origin, " as ", message->GetTypeName());
  }
}

void read_proto_from_text_file(const std::string& path, google::protobuf::Message* message) {
  read_proto_from_text(read_file(path), path, message);
}

void read_proto_from_binary_file(const std::string& path, google::protobuf::Message* message) {
  const std::string bytes = read_file(path);
  google::protobuf::io::ArrayInputStream array(bytes.data(), static_cast<int>(bytes.size()));
  google::protobuf::io::CodedInputStream coded(&array);
  coded.SetTotalBytesLimit(INT32_MAX);  // models can exceed protobuf's default 64 MiB limit
  if (!message->ParseFromCodedStream(&coded) || !coded.ConsumedEntireMessage()) {
    fail("'", path, "' is not a valid binary ", message->GetTypeName(), " (", bytes.size(),
         " bytes; truncated or corrupt?)");
  }
}

void write_file_atomically(const std::string& path, const std::string& bytes) {
  std::string temp_path = directory_of(path) + "/.tmp." + std::to_string(getpid()) + ".XXXXXX";
  std::vector<char> name(temp_path.begin(), temp_path.end());
  name.push_back('\0');
  const int fd = mkstemp(name.data());
  if (fd < 0) fail("cannot create a temporary file next to '", path, "': ", std::strerror(errno));
  temp_path = name.data();
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      std::remove(temp_path.c_str());
      fail("cannot write '", path, "': ", std::strerror(err));
    }
    written += static_cast<size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  ::chmod(temp_path.c_str(), 0644);
  if (!synced || std::rename(temp_path.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(temp_path.c_str());
    fail("cannot write '", path, "': ", std::strerror(err));
  }
}

void write_proto_to_binary_file(const google::protobuf::Message& message, const std::string& path) {
  std::string bytes;
  if (!message.SerializeToString(&bytes)) fail("cannot serialize ", message.GetTypeName());
  write_file_atomically(path, bytes);
}

void write_proto_to_text_file(const google::protobuf::Message& message, const std::string& path) {
  std::string text;
  if (!google::protobuf::TextFormat::PrintToString(message, &text)) {
    fail("cannot print ", message.GetTypeName());
  }
  write_file_atomically(path, text);
}

NetParameter read_net_param(const std::string& path) {
  NetParameter param;
  read_proto_from_text_file(path, &param);
  upgrade_net_logged(&param, path);
  return param;
}

SolverParameter read_solver_param(const std::string& path) {
  SolverParameter param;
  read_proto_from_text_file(path, &param);
  return param;
}

}  // namespace caffe
