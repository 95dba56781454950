// traces::LineReader: a file read line by line through one buffer, shared by
// the text trace reader and the lackey importer.
#pragma once
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sim/error.hpp"

namespace vmxsim::traces {

inline constexpr std::size_t kReadChunk = 64 * 1024;  // grows only for a longer line

/// Reads a file line by line through one buffer: constant memory (bounded by
/// the longest line), no per-line allocation.
class LineReader {
 public:
  explicit LineReader(std::string path) : path_(std::move(path)), file_(std::fopen(path_.c_str(), "rb"), &std::fclose) {
    if (!file_) throw Error(path_ + ": cannot open trace file");
    buf_.resize(kReadChunk);
  }

  /// The next line without its end-of-line; false at the end of the file.
  bool next(std::string_view& line) {
    for (;;) {
      const char* begin = buf_.data() + begin_;
      const auto* nl = static_cast<const char*>(std::memchr(begin, '\n', end_ - begin_));
      if (nl) {
        line = std::string_view(begin, static_cast<std::size_t>(nl - begin));
        begin_ += line.size() + 1;
        break;
      }
      if (eof_) {
        if (begin_ == end_) return false;
        line = std::string_view(begin, end_ - begin_);  // last line has no '\n'
        begin_ = end_;
        break;
      }
      refill();
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    ++line_no_;
    return true;
  }

  std::uint64_t line_no() const { return line_no_; }
  const std::string& path() const { return path_; }

 private:
  void refill() {
    // Keep the partial line, moved to the front; grow only if it fills the buffer.
    std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
    if (end_ == buf_.size()) buf_.resize(buf_.size() * 2);
    const std::size_t got = std::fread(buf_.data() + end_, 1, buf_.size() - end_, file_.get());
    end_ += got;
    if (got == 0) {
      if (std::ferror(file_.get())) throw Error(path_ + ": cannot read trace file");
      eof_ = true;
    }
  }

  std::string path_;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file_;
  std::vector<char> buf_;
  std::size_t begin_ = 0;  // unread data is buf_[begin_, end_)
  std::size_t end_ = 0;
  bool eof_ = false;
  std::uint64_t line_no_ = 0;
};

}  // namespace vmxsim::traces
