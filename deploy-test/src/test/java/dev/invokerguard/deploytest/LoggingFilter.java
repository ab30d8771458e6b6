package dev.invokerguard.deploytest;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Evaluates a Cloud Logging query (the Logging query language) against a log entry, for the subset
 * deploy.sh's filters use: {@code FIELD.PATH = "string"}, {@code AND}, {@code OR}, {@code NOT} and
 * parentheses. Anything else (another operator, an unquoted value, an implicit AND, a function)
 * throws {@link IllegalArgumentException}, so a filter using syntax this evaluator does not know
 * fails its test instead of being judged wrongly.
 *
 * <p>Semantics as Google documents them
 * (cloud.google.com/logging/docs/view/logging-query-language): {@code NOT} binds tightest, then
 * {@code OR}, then {@code AND} ({@code a OR NOT b AND NOT c OR d} is {@code (a OR (NOT b)) AND
 * ((NOT c) OR d)}); string comparisons are not case-sensitive; a comparison on a field the entry
 * lacks is false.
 */
final class LoggingFilter {
  private interface Node {
    boolean matches(JsonObject entry);
  }

  private final String source;
  private final Node root;

  private LoggingFilter(String source, Node root) {
    this.source = source;
    this.root = root;
  }

  /** Parses {@code filter}; throws IllegalArgumentException outside the subset. */
  static LoggingFilter parse(String filter) {
    Parser parser = new Parser(filter);
    Node root = parser.conjunction();
    if (parser.peek() != null) {
      throw new IllegalArgumentException(
          "unsupported or unexpected '" + parser.peek() + "' in filter: " + filter);
    }
    return new LoggingFilter(filter, root);
  }

  boolean matches(JsonObject entry) {
    return root.matches(entry);
  }

  @Override
  public String toString() {
    return source;
  }

  /**
   * A label extractor's value for {@code entry}: {@code EXTRACT(FIELD.PATH)} only (a regular
   * expression as second argument is outside the subset and throws).
   */
  static Optional<String> extract(String extractor, JsonObject entry) {
    Parser parser = new Parser(extractor);
    if (!"EXTRACT".equals(parser.next()) || !"(".equals(parser.next())) {
      throw new IllegalArgumentException("unsupported label extractor: " + extractor);
    }
    List<String> path = parser.fieldPath();
    if (!")".equals(parser.next()) || parser.peek() != null) {
      throw new IllegalArgumentException("unsupported label extractor: " + extractor);
    }
    JsonElement value = field(entry, path);
    return value != null && value.isJsonPrimitive()
        ? Optional.of(value.getAsString())
        : Optional.empty();
  }

  private static JsonElement field(JsonObject entry, List<String> path) {
    JsonElement at = entry;
    for (String part : path) {
      if (at == null || !at.isJsonObject()) {
        return null;
      }
      at = at.getAsJsonObject().get(part);
    }
    return at;
  }

  private static final class Parser {
    private final String text;
    private final List<String> tokens = new ArrayList<>();
    private int at;

    Parser(String text) {
      this.text = text;
      int i = 0;
      while (i < text.length()) {
        char c = text.charAt(i);
        if (Character.isWhitespace(c)) {
          i++;
        } else if (c == '(' || c == ')' || c == '=' || c == '.') {
          tokens.add(String.valueOf(c));
          i++;
        } else if (c == '"') {
          StringBuilder value = new StringBuilder("\"");
          i++;
          while (i < text.length() && text.charAt(i) != '"') {
            if (text.charAt(i) == '\\' && i + 1 < text.length()) {
              i++;
            }
            value.append(text.charAt(i++));
          }
          if (i >= text.length()) {
            throw new IllegalArgumentException("unterminated string in filter: " + text);
          }
          i++;
          tokens.add(value.toString());
        } else if (Character.isLetter(c) || c == '_') {
          int start = i;
          while (i < text.length()
              && (Character.isLetterOrDigit(text.charAt(i)) || text.charAt(i) == '_')) {
            i++;
          }
          tokens.add(text.substring(start, i));
        } else {
          throw new IllegalArgumentException(
              "unsupported character '" + c + "' at " + i + " in filter: " + text);
        }
      }
    }

    String peek() {
      return at < tokens.size() ? tokens.get(at) : null;
    }

    String next() {
      if (at >= tokens.size()) {
        throw new IllegalArgumentException("filter ends too early: " + text);
      }
      return tokens.get(at++);
    }

    /** conjunction = disjunction { "AND" disjunction } (AND binds loosest). */
    Node conjunction() {
      List<Node> parts = new ArrayList<>(List.of(disjunction()));
      while ("AND".equals(peek())) {
        next();
        parts.add(disjunction());
      }
      return parts.size() == 1 ? parts.get(0) : e -> parts.stream().allMatch(p -> p.matches(e));
    }

    /** disjunction = negation { "OR" negation }. */
    Node disjunction() {
      List<Node> parts = new ArrayList<>(List.of(negation()));
      while ("OR".equals(peek())) {
        next();
        parts.add(negation());
      }
      return parts.size() == 1 ? parts.get(0) : e -> parts.stream().anyMatch(p -> p.matches(e));
    }

    Node negation() {
      if ("NOT".equals(peek())) {
        next();
        Node inner = negation();
        return e -> !inner.matches(e);
      }
      if ("(".equals(peek())) {
        next();
        Node inner = conjunction();
        if (!")".equals(next())) {
          throw new IllegalArgumentException("missing ')' in filter: " + text);
        }
        return inner;
      }
      return comparison();
    }

    Node comparison() {
      List<String> path = fieldPath();
      if (!"=".equals(next())) {
        throw new IllegalArgumentException("only '=' comparisons are supported: " + text);
      }
      String value = next();
      if (!value.startsWith("\"")) {
        throw new IllegalArgumentException("only quoted string values are supported: " + text);
      }
      String expected = value.substring(1).toLowerCase(Locale.ROOT);
      return e -> {
        JsonElement actual = field(e, path);
        return actual != null
            && actual.isJsonPrimitive()
            && actual.getAsString().toLowerCase(Locale.ROOT).equals(expected);
      };
    }

    List<String> fieldPath() {
      List<String> path = new ArrayList<>();
      path.add(identifier());
      while (".".equals(peek())) {
        next();
        path.add(identifier());
      }
      return path;
    }

    private String identifier() {
      String token = next();
      if (!Character.isLetter(token.charAt(0)) && token.charAt(0) != '_'
          || List.of("AND", "OR", "NOT").contains(token)) {
        throw new IllegalArgumentException("expected a field name, got '" + token + "': " + text);
      }
      return token;
    }
  }
}
