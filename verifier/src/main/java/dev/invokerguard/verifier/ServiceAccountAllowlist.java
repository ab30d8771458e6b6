package dev.invokerguard.verifier;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The service accounts allowed to call, as emails or numeric unique IDs. Immutable; built once at
 * start-up. Any entry that is neither is a configuration error, reported at build time, so that a
 * typo can never turn into "nobody matches" or, worse, a wildcard.
 *
 * <p>Accepted entries:
 *
 * <ul>
 *   <li>Service-account emails: {@code NAME@PROJECT.iam.gserviceaccount.com}, {@code
 *       NUMBER-compute@developer.gserviceaccount.com}, {@code PROJECT@appspot.gserviceaccount.com}.
 *       ASCII only, compared case-insensitively by ASCII rules only; matched against the token's
 *       {@code email} only when {@code email_verified} is true. Unicode case rules would make other
 *       characters equal to ASCII letters (the Kelvin sign U+212A lower-cases to {@code k}), so a
 *       non-ASCII entry is refused at build time and a token email with any non-ASCII character
 *       matches no entry.
 *   <li>Numeric unique IDs (10 to 30 digits, no leading zero), matched against {@code sub}. These
 *       survive a service account being deleted and recreated under the same name (the new account
 *       gets a new ID), and they match tokens minted without {@code email}.
 * </ul>
 */
public final class ServiceAccountAllowlist {
  private static final Pattern SERVICE_ACCOUNT_EMAIL =
      Pattern.compile(
          "[a-z0-9](?:[a-z0-9._-]{0,98}[a-z0-9])?@"
              + "(?:[a-z0-9](?:[a-z0-9.-]{0,98}[a-z0-9])?\\.iam|developer|appspot)"
              + "\\.gserviceaccount\\.com");
  private static final Pattern UNIQUE_ID = Pattern.compile("[1-9][0-9]{9,29}");

  private final Set<String> emails;
  private final Set<String> uniqueIds;

  private ServiceAccountAllowlist(Set<String> emails, Set<String> uniqueIds) {
    this.emails = Set.copyOf(emails);
    this.uniqueIds = Set.copyOf(uniqueIds);
  }

  /**
   * Builds an allowlist from entries, each a service-account email or a numeric unique ID. Spaces
   * around an entry are ignored.
   *
   * @throws IllegalArgumentException if the collection is empty or any entry is neither; the
   *     message names every bad entry
   */
  public static ServiceAccountAllowlist of(Collection<String> entries) {
    Objects.requireNonNull(entries, "entries");
    Set<String> emails = new LinkedHashSet<>();
    Set<String> ids = new LinkedHashSet<>();
    List<String> bad = new ArrayList<>();
    List<String> nonAscii = new ArrayList<>();
    for (String raw : entries) {
      String entry = raw == null ? "" : raw.strip();
      // The whole raw entry, before strip(): Unicode spaces around an entry are refused too, as
      // deploy.sh's planner refuses them (deploy-plan's AllowlistTest).
      if (asciiLowerCase(raw == null ? "" : raw) == null) {
        nonAscii.add(escaped(entry));
      } else if (UNIQUE_ID.matcher(entry).matches()) {
        ids.add(entry);
      } else if (isServiceAccountEmail(entry)) {
        emails.add(asciiLowerCase(entry));
      } else {
        bad.add("'" + entry + "'");
      }
    }
    if (!nonAscii.isEmpty()) {
      throw new IllegalArgumentException(
          "allowlist entries must be ASCII (service-account emails and unique IDs are), got "
              + nonAscii);
    }
    if (!bad.isEmpty()) {
      throw new IllegalArgumentException(
          "allowlist entries must be service-account emails or numeric unique IDs, got " + bad);
    }
    if (emails.isEmpty() && ids.isEmpty()) {
      throw new IllegalArgumentException(
          "allowlist is empty: name at least one service-account email or numeric unique ID");
    }
    return new ServiceAccountAllowlist(emails, ids);
  }

  /**
   * Builds an allowlist from a comma-separated list, as in the {@code ALLOWED_INVOKERS} variable.
   * Empty items (two commas in a row, a trailing comma) are errors, not silently skipped.
   *
   * @throws IllegalArgumentException as {@link #of(Collection)}
   */
  public static ServiceAccountAllowlist parse(String commaSeparated) {
    Objects.requireNonNull(commaSeparated, "commaSeparated");
    if (commaSeparated.isBlank()) {
      return of(List.of());
    }
    return of(List.of(commaSeparated.split(",", -1)));
  }

  /**
   * Whether {@code entry} is an allowlist entry by the rules above: a numeric unique ID or a
   * service-account email, ASCII, without surrounding spaces. {@link #of} builds an allowlist from
   * entries this accepts; a configuration reader can name the first entry it refuses.
   */
  public static boolean isEntry(String entry) {
    return entry != null && (UNIQUE_ID.matcher(entry).matches() || isServiceAccountEmail(entry));
  }

  /**
   * Whether {@code value} is a numeric unique ID by the rule above: 10 to 30 ASCII digits, no
   * leading zero.
   */
  public static boolean isUniqueId(String value) {
    return value != null && UNIQUE_ID.matcher(value).matches();
  }

  /**
   * Whether {@code value} is a service-account email (ASCII, case-insensitive by ASCII rules), by
   * the rule above.
   */
  public static boolean isServiceAccountEmail(String value) {
    String lower = value == null || value.length() > 254 ? null : asciiLowerCase(value);
    return lower != null && SERVICE_ACCOUNT_EMAIL.matcher(lower).matches();
  }

  /**
   * {@code value} with {@code A-Z} lower-cased, or {@code null} if it has any character outside
   * ASCII. Not {@link String#toLowerCase}: Unicode rules map some non-ASCII characters to ASCII
   * letters, which would let the Kelvin sign (U+212A) in an email equal {@code k}.
   */
  static String asciiLowerCase(String value) {
    char[] chars = value.toCharArray();
    for (int i = 0; i < chars.length; i++) {
      char c = chars[i];
      if (c > 0x7F) {
        return null;
      }
      if (c >= 'A' && c <= 'Z') {
        chars[i] = (char) (c + ('a' - 'A'));
      }
    }
    return new String(chars);
  }

  /** The entry in quotes with every non-ASCII or control character as {@code \}{@code uXXXX}. */
  private static String escaped(String entry) {
    StringBuilder out = new StringBuilder(entry.length() + 8).append('\'');
    for (char c : entry.toCharArray()) {
      if (c > 0x7E || c < 0x20) {
        out.append(String.format(Locale.ROOT, "\\u%04X", (int) c));
      } else {
        out.append(c);
      }
    }
    return out.append('\'').toString();
  }

  /** The allowlisted emails, lower-cased. */
  public Set<String> emails() {
    return emails;
  }

  /** The allowlisted numeric unique IDs. */
  public Set<String> uniqueIds() {
    return uniqueIds;
  }

  /**
   * Checks a caller whose token is otherwise valid (signature and claims verified): a rejection
   * carries {@code subject}, and {@code email} when verified, for the decision log.
   *
   * @param subject the {@code sub} claim
   * @param email the {@code email} claim, or {@code null} when absent
   * @param emailVerified whether {@code email_verified} was true
   * @throws CallerRejectedException {@link Reason#EMAIL_NOT_VERIFIED} when only an unverified email
   *     would match, else {@link Reason#CALLER_NOT_ALLOWED}
   */
  void check(String subject, String email, boolean emailVerified) throws CallerRejectedException {
    if (uniqueIds.contains(subject)) {
      return;
    }
    // A non-ASCII email gives null and matches nothing: no service-account email has one.
    String lower = email == null ? null : asciiLowerCase(email);
    if (lower != null && emails.contains(lower)) {
      if (emailVerified) {
        return;
      }
      throw new CallerRejectedException(
          Reason.EMAIL_NOT_VERIFIED,
          "the token's email is allowlisted but email_verified is not true",
          subject,
          null);
    }
    throw new CallerRejectedException(
        Reason.CALLER_NOT_ALLOWED,
        "the caller is not on the allowlist",
        subject,
        emailVerified ? email : null);
  }

  @Override
  public String toString() {
    return "ServiceAccountAllowlist{emails=" + emails + ", uniqueIds=" + uniqueIds + "}";
  }
}
