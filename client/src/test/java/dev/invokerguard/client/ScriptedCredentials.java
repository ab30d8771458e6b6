package dev.invokerguard.client;

import com.google.auth.oauth2.GoogleCredentials;
import com.google.auth.oauth2.IdToken;
import com.google.auth.oauth2.IdTokenProvider;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * Credentials whose token endpoint is a script: each {@link #idTokenWithAudience} call takes the
 * next outcome (a token, or an exception to throw). For in-process tests of what the authenticator
 * adds on top of google-auth-library (retry policy, messages); the real metadata path is covered in
 * a child JVM by {@link MetadataServerPathTest}.
 */
final class ScriptedCredentials extends GoogleCredentials implements IdTokenProvider {
  private static final long serialVersionUID = 1L;

  private final transient Deque<Object> script = new ArrayDeque<>();
  private final transient List<String> audiences = new ArrayList<>();
  private final transient List<List<Option>> options = new ArrayList<>();

  synchronized ScriptedCredentials thenToken(String token) {
    script.add(token);
    return this;
  }

  synchronized ScriptedCredentials thenFail(IOException failure) {
    script.add(failure);
    return this;
  }

  synchronized ScriptedCredentials thenFail(int times, IOException failure) {
    for (int i = 0; i < times; i++) {
      script.add(failure);
    }
    return this;
  }

  synchronized int calls() {
    return audiences.size();
  }

  synchronized List<String> audiences() {
    return List.copyOf(audiences);
  }

  synchronized List<Option> lastOptions() {
    return options.get(options.size() - 1);
  }

  @Override
  public synchronized IdToken idTokenWithAudience(String audience, List<Option> requested)
      throws IOException {
    audiences.add(audience);
    options.add(List.copyOf(requested));
    Object next = script.poll();
    if (next == null) {
      throw new IllegalStateException("script exhausted");
    }
    if (next instanceof IOException failure) {
      throw failure;
    }
    return IdToken.create((String) next);
  }
}
