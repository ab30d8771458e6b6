package dev.invokerguard.deploytest;

import dev.invokerguard.standin.Gcloud;
import dev.invokerguard.standin.GoogleStandIn;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Runs the real client-setup.sh with the real gcloud pointed at a {@link GoogleStandIn}. */
final class ClientSetup {
  private static final Pattern UNIQUE_ID = Pattern.compile("(?m)^Unique ID: +([0-9]+)$");
  private static final Pattern ALLOW = Pattern.compile("--allow (\\S+)");

  private final Gcloud gcloud;

  ClientSetup(Gcloud gcloud) {
    this.gcloud = gcloud;
  }

  /** {@code bash client-setup.sh ARGS...} in {@code workingDir}. */
  Gcloud.Result run(Path workingDir, String... args) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>();
    command.addAll(List.of("bash", "-c", "cd \"$1\" && shift && exec bash \"$@\"", "bash"));
    command.add(workingDir.toString());
    command.add(Tools.repositoryRoot().resolve("client-setup.sh").toString());
    command.addAll(List.of(args));
    return gcloud.run(command, Map.of(), Duration.ofMinutes(2));
  }

  /** The unique ID the summary printed. */
  static String uniqueId(Gcloud.Result result) {
    Matcher m = UNIQUE_ID.matcher(result.stdout());
    if (!m.find()) {
      throw new AssertionError("no unique ID in the summary\n" + result);
    }
    return m.group(1);
  }

  /** The value of the {@code --allow} argument the summary tells the host team to use. */
  static String allowArgument(Gcloud.Result result) {
    Matcher m = ALLOW.matcher(result.stdout());
    if (!m.find()) {
      throw new AssertionError("no --allow argument in the summary\n" + result);
    }
    return m.group(1);
  }

  /** The requests that change something at Google (reads and token exchanges aside). */
  static List<GoogleStandIn.Request> mutating(List<GoogleStandIn.Request> requests) {
    return requests.stream()
        .filter(r -> !r.api().equals("token"))
        .filter(r -> !r.method().equals("GET"))
        .filter(r -> !(r.method().equals("POST") && r.path().endsWith(":getIamPolicy")))
        .toList();
  }
}
