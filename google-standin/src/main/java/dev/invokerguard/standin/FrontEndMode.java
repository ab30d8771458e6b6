package dev.invokerguard.standin;

/**
 * Which of the plausible behaviours of Google's front end the stand-in plays, chosen per stand-in
 * ({@link GoogleStandIn.Builder#frontEndMode}). No test here can watch Google, so the product is
 * tested in each. What Google documents and what is assumed: deploy-test/README.md, "The front
 * end's modes".
 *
 * <p>In every mode the front end judges {@code X-Serverless-Authorization} when it is present and
 * {@code Authorization} otherwise (the token must be valid and its account hold the invoker role),
 * unless the Cloud Run service's invoker IAM check is off ({@code
 * run.googleapis.com/invoker-iam-disabled}), in which case it forwards every request unjudged, as
 * sent.
 */
public enum FrontEndMode {
  /**
   * A (the default): only a judged {@code X-Serverless-Authorization} loses its signature (replaced
   * by {@code SIGNATURE_REMOVED_BY_GOOGLE}); {@code Authorization} always reaches the function as
   * sent, judged or not.
   */
  STRIP_SERVERLESS_ONLY,

  /**
   * B: whatever header the front end judged loses its signature: {@code Authorization} when it is
   * sent alone, {@code X-Serverless-Authorization} when both are sent ({@code Authorization} then
   * passes intact, unjudged).
   */
  STRIP_JUDGED,

  /**
   * C: every 2nd gen function's Cloud Run service starts with the invoker IAM check off (as if
   * {@code gcloud run services update --no-invoker-iam-check} had been run), so its front end
   * forwards every request unjudged until the check is switched on; then it behaves as A. 1st gen
   * functions have no such setting and behave as A.
   */
  INVOKER_CHECK_OFF
}
