#include "caffe/util/io.hpp"

#include <fcntl.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/text_format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
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
  parse_binary_proto(read_file(path), path, message);
}

void parse_binary_proto(const std::string& bytes, const std::string& path,
                        google::protobuf::Message* message) {
  google::protobuf::io::ArrayInputStream array(bytes.data(), static_cast<int>(bytes.size()));
  google::protobuf::io::CodedInputStream coded(&array);
  coded.SetTotalBytesLimit(INT32_MAX);  // models can exceed protobuf's default 64 MiB limit
  if (!message->ParseFromCodedStream(&coded) || !coded.ConsumedEntireMessage()) {
    fail("'", path, "' is not a valid binary ", message->GetTypeName(), " (", bytes.size(),
         " bytes; truncated or corrupt?)");
  }
}

namespace {

// Test hook (tests/python/test_crash_safety.py): with CAFFE_TEST_STOP_MID_WRITE=1 in the
// environment the process stops itself (SIGSTOP) halfway through every atomic write, its
// temporary file half written, so that a test can kill it exactly there or let it go on
// (SIGCONT).  Read once: the environment does not change under a running process.
bool stop_mid_write() {
  static const bool enabled = [] {
    const char* value = std::getenv("CAFFE_TEST_STOP_MID_WRITE");
    return value != nullptr && std::strcmp(value, "1") == 0;
  }();
  return enabled;
}

// The temporary file an atomic write fills: `.<name>.tmp.XXXXXX` beside its target (the same
// file system, so the rename is atomic; the name says whose it is when a killed process leaves
// one behind).  Removed again unless Commit renamed it over the target.
class TemporaryFile {
 public:
  explicit TemporaryFile(const std::string& target) : target_(target) {
    const size_t slash = target.find_last_of('/');
    const std::string folder = slash == std::string::npos ? "."
                               : slash == 0               ? "/"
                                                          : target.substr(0, slash);
    const std::string name = slash == std::string::npos ? target : target.substr(slash + 1);
    // Cut so that the temporary's name stays within NAME_MAX (255) when the target's does.
    std::string pattern = folder + "/." + name.substr(0, 240) + ".tmp.XXXXXX";
    fd_ = mkstemp(pattern.data());
    if (fd_ < 0) {
      fail("cannot write '", target,
           "': cannot create a temporary file beside it: ", std::strerror(errno));
    }
    path_ = pattern;
    folder_ = folder;
  }
  ~TemporaryFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) std::remove(path_.c_str());
  }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;

  void Write(const char* data, size_t size) {
    size_t written = 0;
    while (written < size) {
      const ssize_t n = ::write(fd_, data + written, size - written);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) Fail(errno);
      written += static_cast<size_t>(n);
    }
  }

  // The bytes reach the disk before the name does, so that after a crash the target holds
  // either its old contents or all of the new ones.
  void Commit() {
    if (::fsync(fd_) != 0) Fail(errno);
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) Fail(errno);
    ::chmod(path_.c_str(), 0644);  // mkstemp creates 0600; snapshots are shared like any output
    if (std::rename(path_.c_str(), target_.c_str()) != 0) Fail(errno);
    committed_ = true;
    SyncFolder();
  }

 private:
  [[noreturn]] void Fail(int error) {
    fail("cannot write '", target_, "': ", std::strerror(error));
  }

  // Makes the rename itself durable.  Best effort: the rename is atomic either way, and some
  // file systems cannot sync a folder.
  void SyncFolder() const {
    const int fd = ::open(folder_.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd < 0) return;
    ::fsync(fd);
    ::close(fd);
  }

  std::string target_;
  std::string path_;
  std::string folder_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace

void write_file_atomically(const std::string& path, const std::string& bytes) {
  TemporaryFile temporary(path);
  const size_t half = bytes.size() / 2;
  temporary.Write(bytes.data(), half);
  if (stop_mid_write()) ::raise(SIGSTOP);
  temporary.Write(bytes.data() + half, bytes.size() - half);
  temporary.Commit();
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
