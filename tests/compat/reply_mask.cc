#include "compat/reply_mask.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <optional>

namespace kvs::compat {

namespace {

constexpr std::string_view kMasked = "<masked>";

std::optional<long long> Number(std::string_view s) {
  long long n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return n;
}

bool IsBulk(char type) { return type == '$' || type == '=' || type == '!'; }
bool IsAggregate(char type) {
  return type == '*' || type == '~' || type == '>' || type == '%' || type == '|';
}

// Parses one node at *pos; false if the bytes end first or are not RESP.
bool ParseAt(std::string_view bytes, size_t* pos, ReplyNode* out) {
  const size_t eol = bytes.find("\r\n", *pos);
  if (eol == std::string_view::npos || eol == *pos) return false;
  out->type = bytes[*pos];
  const std::string_view line = bytes.substr(*pos + 1, eol - *pos - 1);
  *pos = eol + 2;
  if (!IsBulk(out->type) && !IsAggregate(out->type)) {
    out->text = std::string(line);
    return true;
  }
  const std::optional<long long> n = Number(line);
  if (!n) return false;
  out->count = *n;
  if (*n < 0) return true;
  if (IsBulk(out->type)) {
    const auto len = static_cast<size_t>(*n);
    if (bytes.size() < *pos + len + 2 || bytes.substr(*pos + len, 2) != "\r\n") return false;
    out->text = std::string(bytes.substr(*pos, len));
    *pos += len + 2;
    return true;
  }
  long long items = out->type == '%' || out->type == '|' ? 2 * *n : *n;
  if (out->type == '|') ++items;  // the reply the attribute describes
  for (long long i = 0; i < items; ++i) {
    out->items.emplace_back();
    if (!ParseAt(bytes, pos, &out->items.back())) return false;
  }
  return true;
}

// Replaces a value node's content by the placeholder, keeping its type.
void MaskValue(ReplyNode* v) {
  if (v->type == ':') {
    if (Number(v->text).value_or(0) > 0) v->text = kMasked;
  } else if (IsBulk(v->type) && v->count >= 0) {
    v->text = kMasked;
  }
}

// Applies `mask` to the node, or, where it does not apply, to the items of an aggregate
// (a reply inside EXEC's array); true if it applied anywhere.
bool Visit(ReplyNode* node, bool (*mask)(ReplyNode*)) {
  if (mask(node)) return true;
  bool any = false;
  for (ReplyNode& item : node->items) any = Visit(&item, mask) || any;
  return any;
}

std::string WithMask(std::string_view reply, bool (*mask)(ReplyNode*)) {
  ReplyNode node;
  if (!ParseReply(reply, &node) || !Visit(&node, mask)) return std::string(reply);
  return EncodeReply(node);
}

}  // namespace

bool ParseReply(std::string_view bytes, ReplyNode* out) {
  size_t pos = 0;
  *out = ReplyNode{};
  return ParseAt(bytes, &pos, out) && pos == bytes.size();
}

std::string EncodeReply(const ReplyNode& node) {
  if (!IsBulk(node.type) && !IsAggregate(node.type)) {
    return fmt::format("{}{}\r\n", node.type, node.text);
  }
  if (node.count < 0) return fmt::format("{}{}\r\n", node.type, node.count);
  if (IsBulk(node.type)) {
    return fmt::format("{}{}\r\n{}\r\n", node.type, node.text.size(), node.text);
  }
  size_t count = node.items.size();
  if (node.type == '%') count /= 2;
  if (node.type == '|') count = (count - 1) / 2;
  std::string out = fmt::format("{}{}\r\n", node.type, count);
  for (const ReplyNode& item : node.items) out += EncodeReply(item);
  return out;
}

std::string MaskHello(std::string_view reply) {
  return WithMask(reply, [](ReplyNode* n) {
    if ((n->type != '*' && n->type != '%') || n->items.size() % 2 != 0 || n->items.empty() ||
        n->items[0].text != "server") {
      return false;
    }
    for (size_t i = 0; i + 1 < n->items.size(); i += 2) {
      const std::string& name = n->items[i].text;
      if (name == "server" || name == "version" || name == "id") MaskValue(&n->items[i + 1]);
    }
    return true;
  });
}

std::string MaskId(std::string_view reply) {
  return WithMask(reply, [](ReplyNode* n) {
    if (n->type != ':') return false;
    MaskValue(n);
    return true;
  });
}

std::string MaskTime(std::string_view reply) {
  return WithMask(reply, [](ReplyNode* n) {
    if (n->type != '*' || n->items.size() != 2) return false;
    for (ReplyNode& item : n->items) {
      const bool digits = item.type == '$' && !item.text.empty() &&
                          std::all_of(item.text.begin(), item.text.end(),
                                      [](char c) { return c >= '0' && c <= '9'; });
      if (digits) item.text = "<digits>";
    }
    return true;
  });
}

std::string MaskClientInfo(std::string_view reply) {
  return WithMask(reply, [](ReplyNode* n) {
    if (!IsBulk(n->type) || n->count < 0) return false;
    static constexpr std::array<std::string_view, 16> kVolatile = {
        "id",       "addr",      "laddr", "fd",  "age", "idle", "qbuf", "qbuf-free",
        "argv-mem", "multi-mem", "rbs",   "rbp", "obl", "oll",  "omem", "tot-mem"};
    std::string masked;
    std::string_view text = n->text;
    if (n->type == '=' && text.size() >= 4) {  // a verbatim string's format: "txt:"
      masked = text.substr(0, 4);
      text.remove_prefix(4);
    }
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find_first_of(" \n", start);
      if (end == std::string_view::npos) end = text.size();
      const std::string_view field = text.substr(start, end - start);
      const size_t eq = field.find('=');
      if (eq != std::string_view::npos &&
          std::find(kVolatile.begin(), kVolatile.end(), field.substr(0, eq)) != kVolatile.end()) {
        masked += field.substr(0, eq + 1);
        masked += '*';
      } else {
        masked += field;
      }
      if (end < text.size()) masked += text[end];
      start = end + 1;
    }
    n->text = masked;
    return true;
  });
}

std::string MaskSubcommandOrder(std::string_view reply) {
  ReplyNode node;
  if (!ParseReply(reply, &node)) return std::string(reply);
  // Sorts every list of subcommands below `n`: COMMAND INFO's entries (an array of 10 whose
  // last item lists entries) and DOCS' "subcommands" maps (name, docs pairs).
  struct Sorter {
    static void Sort(ReplyNode* n) {
      for (ReplyNode& item : n->items) Sort(&item);
      const bool info_entry = n->items.size() == 10 && n->items[0].type == '$' &&
                              (n->items[9].type == '*' || n->items[9].type == '~');
      if (info_entry) {
        std::vector<ReplyNode>& subs = n->items[9].items;
        std::sort(subs.begin(), subs.end(), [](const ReplyNode& a, const ReplyNode& b) {
          return EncodeReply(a) < EncodeReply(b);
        });
      }
      for (size_t i = 0; i + 1 < n->items.size(); i += 2) {
        if (n->items[i].text != "subcommands") continue;
        std::vector<ReplyNode>& map = n->items[i + 1].items;
        std::vector<std::pair<std::string, std::vector<ReplyNode>>> pairs;
        for (size_t j = 0; j + 1 < map.size(); j += 2) {
          pairs.push_back({EncodeReply(map[j]) + EncodeReply(map[j + 1]), {map[j], map[j + 1]}});
        }
        std::sort(pairs.begin(), pairs.end(),
                  [](const auto& a, const auto& b) { return a.first < b.first; });
        map.clear();
        for (auto& p : pairs) map.insert(map.end(), p.second.begin(), p.second.end());
      }
    }
  };
  Sorter::Sort(&node);
  return EncodeReply(node);
}

}  // namespace kvs::compat
