package dev.invokerguard.benchmarks;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Prints issue 6's table of verifier ratios from one JMH run's JSON results ({@code -rf json}):
 * each ratio is of two throughputs measured in the same run, so the machine's speed and load cancel
 * out as far as they can.
 *
 * <pre>java -cp benchmarks.jar dev.invokerguard.benchmarks.Ratios jmh-result.json</pre>
 */
public final class Ratios {
  /** One row: numerator / denominator against a target, at least or at most. */
  record Row(String figure, String numerator, String denominator, double target, boolean atLeast) {}

  static final List<Row> ROWS =
      List.of(
          new Row(
              "our miss path vs raw RSA verify", "oursMissCacheOff", "rawJdkRsaVerify", 0.85, true),
          new Row(
              "our miss path vs GoogleIdTokenVerifier",
              "oursMissCacheOff",
              "googleApiClientVerifier",
              1.5,
              true),
          new Row(
              "our miss path vs google-auth TokenVerifier",
              "oursMissCacheOff",
              "googleAuthTokenVerifier",
              1.0,
              true),
          new Row("our hit path vs raw RSA verify", "oursHit", "rawJdkRsaVerify", 20, true),
          new Row(
              "(info) hit from request headers vs raw RSA verify",
              "oursHitFromHeaders",
              "rawJdkRsaVerify",
              Double.NaN,
              true),
          new Row(
              "(info) miss with cache on vs cache off",
              "oursMissCacheOn",
              "oursMissCacheOff",
              Double.NaN,
              true));

  private Ratios() {}

  /**
   * Prints the scores and the ratios as Markdown tables.
   *
   * @param args the path of JMH's JSON result file
   */
  public static void main(String[] args) throws IOException {
    if (args.length != 1) {
      System.err.println("usage: Ratios jmh-result.json");
      System.exit(2);
    }
    Map<String, double[]> scores = read(Path.of(args[0]));
    System.out.println("| benchmark | ops/s | ± (99.9%) |");
    System.out.println("| --- | ---: | ---: |");
    scores.forEach(
        (name, score) ->
            System.out.printf(Locale.ROOT, "| %s | %,.0f | %,.0f |%n", name, score[0], score[1]));
    System.out.println();
    System.out.println("| figure | measured | target | met |");
    System.out.println("| --- | ---: | --- | --- |");
    for (Row row : ROWS) {
      double[] top = scores.get(row.numerator());
      double[] bottom = scores.get(row.denominator());
      if (top == null || bottom == null) {
        System.out.printf("| %s | not measured | | |%n", row.figure());
        continue;
      }
      double ratio = top[0] / bottom[0];
      boolean informational = Double.isNaN(row.target());
      boolean met = row.atLeast() ? ratio >= row.target() : ratio <= row.target();
      System.out.printf(
          Locale.ROOT,
          "| %s | %.2f | %s | %s |%n",
          row.figure(),
          ratio,
          informational ? "" : (row.atLeast() ? "at least " : "at most ") + row.target(),
          informational ? "" : (met ? "yes" : "NO"));
    }
  }

  /** Benchmark short name to {score, error}, in file order. */
  static Map<String, double[]> read(Path json) throws IOException {
    Map<String, double[]> scores = new LinkedHashMap<>();
    try (Reader reader = Files.newBufferedReader(json, StandardCharsets.UTF_8)) {
      for (JsonElement element : JsonParser.parseReader(reader).getAsJsonArray()) {
        JsonObject result = element.getAsJsonObject();
        String name = result.get("benchmark").getAsString();
        JsonObject metric = result.getAsJsonObject("primaryMetric");
        double error =
            metric.get("scoreError").isJsonPrimitive()
                    && metric.get("scoreError").getAsJsonPrimitive().isNumber()
                ? metric.get("scoreError").getAsDouble()
                : Double.NaN;
        scores.put(
            name.substring(name.lastIndexOf('.') + 1),
            new double[] {metric.get("score").getAsDouble(), error});
      }
    }
    return scores;
  }
}
