// A tiny, strict parser for the SVG and HTML that analysis/ writes: balanced tags, quoted and
// unique attributes, known entities only, no raw '<' or '&' in text, one root (SVG). It returns
// the elements in document order with their attributes and direct text, or the first error.
#pragma once

#include <cctype>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace deeper::analysis::test {

struct Element {
  std::string name;
  std::map<std::string, std::string> attrs;
  std::string text;  // direct character data, entities decoded
  int depth = 0;

  bool has_class(std::string_view c) const {
    const auto it = attrs.find("class");
    if (it == attrs.end()) return false;
    std::size_t start = 0;
    const std::string& v = it->second;
    while (start <= v.size()) {
      const std::size_t end = std::min(v.find(' ', start), v.size());
      if (std::string_view(v).substr(start, end - start) == c) return true;
      start = end + 1;
    }
    return false;
  }
  double number(const std::string& attr) const { return std::strtod(attrs.at(attr).c_str(), nullptr); }
};

struct Parsed {
  std::string error;  // empty when well-formed
  std::vector<Element> elements;

  std::vector<const Element*> all(std::string_view name, std::string_view cls = {}) const {
    std::vector<const Element*> out;
    for (const auto& e : elements) {
      if (e.name == name && (cls.empty() || e.has_class(cls))) out.push_back(&e);
    }
    return out;
  }
};

inline bool valid_entity(std::string_view s, std::size_t amp) {
  const std::size_t semi = s.find(';', amp);
  if (semi == std::string_view::npos || semi - amp > 10) return false;
  const std::string_view name = s.substr(amp + 1, semi - amp - 1);
  if (name == "amp" || name == "lt" || name == "gt" || name == "quot" || name == "apos") return true;
  if (name.size() >= 2 && name[0] == '#') {
    for (std::size_t i = 1; i < name.size(); ++i) {
      if (!std::isdigit(static_cast<unsigned char>(name[i]))) return false;
    }
    return true;
  }
  return false;
}

// The character(s) of a valid entity's name ("amp" -> "&", "#39" -> "'"; ASCII code points only).
inline std::string decode_entity(std::string_view name) {
  if (name == "amp") return "&";
  if (name == "lt") return "<";
  if (name == "gt") return ">";
  if (name == "quot") return "\"";
  if (name == "apos") return "'";
  const int code = std::atoi(std::string(name.substr(1)).c_str());
  return code < 128 ? std::string(1, static_cast<char>(code)) : "?";
}

// Text of elements comes back with entities decoded; attribute values stay as written.
// html: allow the doctype, void elements (meta, img, br, ...) and raw-text <style>.
inline Parsed parse_markup(std::string_view s, bool html) {
  static const std::set<std::string> kVoid = {"meta", "img", "br", "hr", "link", "input", "wbr"};
  Parsed p;
  std::vector<std::size_t> stack;  // indices into p.elements
  int roots = 0;
  std::size_t i = 0;
  const auto err = [&](const std::string& what) {
    p.error = what + " at offset " + std::to_string(i) + ": '" + std::string(s.substr(i, 40)) + "'";
    return p;
  };
  const auto is_name = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == ':' || c == '_'; };
  while (i < s.size()) {
    const char c = s[i];
    if (c == '&') {
      if (!valid_entity(s, i)) return err("bad entity");
      const std::size_t semi = s.find(';', i);
      if (!stack.empty()) p.elements[stack.back()].text += decode_entity(s.substr(i + 1, semi - i - 1));
      i = semi + 1;
      continue;
    }
    if (c == '>') return err("raw '>' in text");
    if (c != '<') {
      if (!stack.empty()) p.elements[stack.back()].text += c;
      else if (!std::isspace(static_cast<unsigned char>(c))) return err("text outside the root");
      ++i;
      continue;
    }
    if (s.substr(i, 4) == "<!--") {
      const auto end = s.find("-->", i);
      if (end == std::string_view::npos) return err("unterminated comment");
      i = end + 3;
      continue;
    }
    if (html && s.substr(i, 9) == "<!DOCTYPE") {
      i = s.find('>', i) + 1;
      continue;
    }
    if (s.substr(i, 2) == "</") {
      std::size_t j = i + 2;
      while (j < s.size() && is_name(s[j])) ++j;
      const std::string name(s.substr(i + 2, j - i - 2));
      if (j >= s.size() || s[j] != '>') return err("bad closing tag");
      if (stack.empty() || p.elements[stack.back()].name != name) {
        return err("closing </" + name + "> does not match <" + (stack.empty() ? "" : p.elements[stack.back()].name) + ">");
      }
      stack.pop_back();
      i = j + 1;
      continue;
    }
    // opening tag
    std::size_t j = i + 1;
    if (j >= s.size() || !std::isalpha(static_cast<unsigned char>(s[j]))) return err("raw '<' in text");
    while (j < s.size() && is_name(s[j])) ++j;
    Element e;
    e.name = std::string(s.substr(i + 1, j - i - 1));
    e.depth = static_cast<int>(stack.size());
    bool self_closing = false;
    for (;;) {
      while (j < s.size() && std::isspace(static_cast<unsigned char>(s[j]))) ++j;
      if (j >= s.size()) return err("unterminated tag");
      if (s[j] == '>') {
        ++j;
        break;
      }
      if (s.substr(j, 2) == "/>") {
        self_closing = true;
        j += 2;
        break;
      }
      const std::size_t a = j;
      while (j < s.size() && is_name(s[j])) ++j;
      if (j == a) return err("bad attribute in <" + e.name + ">");
      const std::string attr(s.substr(a, j - a));
      if (j + 1 >= s.size() || s[j] != '=' || (s[j + 1] != '"' && s[j + 1] != '\'')) {
        return err("attribute '" + attr + "' is not quoted");
      }
      const char quote = s[j + 1];
      const std::size_t end = s.find(quote, j + 2);
      if (end == std::string_view::npos) return err("unterminated attribute");
      const std::string_view value = s.substr(j + 2, end - j - 2);
      for (std::size_t k = 0; k < value.size(); ++k) {
        if (value[k] == '<') return err("'<' in attribute '" + attr + "'");
        if (value[k] == '&' && !valid_entity(value, k)) return err("bad entity in attribute '" + attr + "'");
      }
      if (!e.attrs.emplace(attr, std::string(value)).second) return err("duplicate attribute '" + attr + "'");
      j = end + 1;
    }
    if (stack.empty()) ++roots;
    p.elements.push_back(e);
    i = j;
    if (html && kVoid.count(e.name)) continue;
    if (self_closing) continue;
    if (html && (e.name == "style" || e.name == "script")) {
      const auto end = s.find("</" + e.name + ">", i);
      if (end == std::string_view::npos) return err("unterminated <" + e.name + ">");
      p.elements.back().text = std::string(s.substr(i, end - i));
      i = end + e.name.size() + 3;
      continue;
    }
    stack.push_back(p.elements.size() - 1);
  }
  if (!stack.empty()) {
    p.error = "unclosed <" + p.elements[stack.back()].name + ">";
    return p;
  }
  if (roots != 1) p.error = "expected one root element, found " + std::to_string(roots);
  return p;
}

}  // namespace deeper::analysis::test
