// The console in headless Chromium against a running stack (started by the pytest test that
// runs this script). Exits non-zero on the first failed step; saves a screenshot of every
// page to ARTIFACTS. Environment: BASE_URL, API_KEY, CHROMIUM, ARTIFACTS, CSV_FILE,
// EXPECT_ACCEPTED, EXPECT_DUPLICATES, EXPECT_INVALID, SINGLE_NUMBER, RECEIVER_URL (a webhook
// receiver the test runs; the script prints the secret it was given).
import { readFile, mkdir } from "node:fs/promises";
import path from "node:path";

import { chromium } from "playwright-core";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const BASE_URL = env("BASE_URL");
const ARTIFACTS = env("ARTIFACTS");
const STEP_TIMEOUT = 30_000;

await mkdir(ARTIFACTS, { recursive: true });
const browser = await chromium.launch({
  executablePath: env("CHROMIUM"),
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
const problems = [];
let step = "start";

function log(message) {
  console.log(`[console e2e] ${message}`);
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** URLs of the event streams the pages opened. */
const streamed = [];

function watch(page) {
  page.on("request", (request) => {
    if (request.url().includes("/api/v1/events")) streamed.push(request.url());
  });
  page.on("console", (message) => {
    if (message.type() !== "error") return;
    // Chromium logs every 4xx answer; the invalid form's 422 is the one the test asks for.
    const expected = step === "invalid form" && /status of 422/.test(message.text());
    if (!expected) problems.push(`${step}: console error: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`${step}: page error: ${error.message}`));
}

async function text(locator) {
  return (await locator.textContent())?.trim() ?? "";
}

async function until(description, probe, timeout = STEP_TIMEOUT) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    last = await probe();
    if (last) return last;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out waiting for ${description} (last: ${JSON.stringify(last)})`);
}

try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT);
  watch(page);

  step = "sign in";
  await page.goto(BASE_URL);
  await shot(page, "01-sign-in");
  // Keyboard only: the key field has the focus; Enter submits.
  await page.keyboard.type(env("API_KEY"));
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "Campaigns" }).waitFor();
  log("signed in");

  step = "invalid form";
  await page.getByRole("link", { name: "New campaign" }).first().click();
  await page.getByRole("heading", { name: "New campaign" }).waitFor();
  await page.getByLabel("Concurrent calls").fill("0");
  await page.getByRole("button", { name: /Create/ }).click();
  const nameField = page.locator(".field", { has: page.getByLabel("Name", { exact: true }) });
  await nameField.locator(".field-error").waitFor();
  const concurrencyField = page.locator(".field", { has: page.getByLabel("Concurrent calls") });
  const concurrencyError = await text(concurrencyField.locator(".field-error"));
  if (!/greater than or equal to 1/i.test(concurrencyError)) {
    throw new Error(`concurrency error not shown next to its field: ${concurrencyError}`);
  }
  await shot(page, "02-new-campaign-invalid");
  log(`invalid form: "${await text(nameField.locator(".field-error"))}", "${concurrencyError}"`);

  step = "create by CSV upload";
  await page.getByLabel("Name", { exact: true }).fill("Browser campaign");
  await page.getByLabel("Concurrent calls").fill("5");
  await page.getByRole("checkbox", { name: "sat" }).check();
  await page.getByRole("checkbox", { name: "sun" }).check();
  await page.getByLabel("From").fill("00:00");
  await page.getByLabel("Until").fill("23:59");
  await page.getByLabel("Time zone").selectOption("UTC");
  await page.getByLabel("Or upload a CSV or text file").setInputFiles(env("CSV_FILE"));
  await page.getByRole("button", { name: /Create/ }).click();
  await page.getByTestId("accepted").waitFor();
  const counts = {
    accepted: await text(page.getByTestId("accepted")),
    duplicates: await text(page.getByTestId("duplicates")),
    invalid: await text(page.getByTestId("invalid")),
  };
  const expected = {
    accepted: env("EXPECT_ACCEPTED"),
    duplicates: env("EXPECT_DUPLICATES"),
    invalid: env("EXPECT_INVALID"),
  };
  if (JSON.stringify(counts) !== JSON.stringify(expected)) {
    throw new Error(`preview counts ${JSON.stringify(counts)}, expected ${JSON.stringify(expected)}`);
  }
  await shot(page, "03-preview");
  log(`preview ${JSON.stringify(counts)}`);

  step = "start and watch progress";
  await page.getByRole("button", { name: "Start campaign" }).click();
  await page.getByRole("heading", { name: "Browser campaign" }).waitFor();
  const completed = page.getByTestId("completed");
  await until("progress to move", async () => Number(await text(completed)) > 0);
  await shot(page, "04-campaign-running");
  log(`progress moving: ${await text(completed)} completed`);

  step = "pause";
  await page.getByRole("button", { name: "Pause" }).click();
  await page.getByRole("button", { name: "Resume" }).waitFor();
  await until("the paused badge", async () => (await text(page.locator(".page-head .badge"))) === "paused");
  await shot(page, "05-campaign-paused");
  log("paused");

  step = "resume and finish";
  await page.getByRole("button", { name: "Resume" }).click();
  await until(
    "the campaign to complete",
    async () => (await text(page.locator(".page-head .badge"))) === "completed",
    120_000,
  );
  const total = Number(await text(page.getByTestId("total")));
  await until("every call completed on the page", async () => Number(await text(completed)) === total);
  await page.getByLabel("Filter calls by status").selectOption("COMPLETED");
  await page.locator("table.calls tbody tr").first().waitFor();
  await page.locator("table.calls tbody tr button.link").first().click();
  await page.locator(".attempts li").first().waitFor();
  await shot(page, "06-campaign-completed");
  log(`completed ${total} calls`);

  step = "export CSV";
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("button", { name: "Export CSV" }).click(),
  ]);
  const exported = (await readFile(await download.path(), "utf8")).trim().split(/\r?\n/);
  if (exported[0].split(",")[1] !== "phoneNumber" || exported.length !== total + 1) {
    throw new Error(`export has ${exported.length} lines for ${total} calls: ${exported[0]}`);
  }
  log(`exported ${exported.length - 1} calls`);

  step = "campaigns list";
  await page.getByRole("link", { name: "Campaigns" }).first().click();
  const row = page.locator("tr", { has: page.getByRole("link", { name: "Browser campaign" }) });
  await row.waitFor();
  await until("the list to show it completed", async () => (await text(row.locator(".badge"))) === "completed");
  await shot(page, "07-campaigns");

  step = "one call";
  await page.getByRole("link", { name: "One call" }).click();
  await page.getByLabel("Phone number").fill(env("SINGLE_NUMBER"));
  await page.getByRole("button", { name: "Call", exact: true }).click();
  await until("the single call to complete", async () =>
    (await text(page.locator("[aria-live] .badge"))) === "completed",
  );
  await shot(page, "08-one-call");
  log("single call completed");

  step = "overview";
  await page.getByRole("link", { name: "Overview" }).click();
  await page.getByTestId("lines").waitFor();
  const management = await page.getByRole("link", { name: "RabbitMQ management console" }).getAttribute("href");
  if (!management?.endsWith(":15672/")) throw new Error(`management link ${management}`);
  await shot(page, "09-overview");

  step = "live events";
  // The campaign's page followed the event stream instead of only polling.
  if (!streamed.some((url) => url.includes("/api/v1/events?campaignId="))) {
    throw new Error(`the campaign page opened no event stream: ${JSON.stringify(streamed)}`);
  }

  step = "webhooks";
  await page.getByRole("link", { name: "Webhooks" }).click();
  await page.getByRole("heading", { name: "Webhooks", level: 1 }).waitFor();
  await page.getByLabel("URL").fill(env("RECEIVER_URL"));
  await page.getByLabel("All events, including types added later").check();
  await page.getByRole("button", { name: "Add the webhook" }).click();
  const secret = await page.getByLabel("Signing secret").inputValue();
  if (!secret.startsWith("whsec_")) throw new Error(`secret shown: ${secret}`);
  console.log(`[console e2e] secret ${secret}`);
  const hook = page.locator("tr", { hasText: env("RECEIVER_URL") });
  await hook.getByRole("button", { name: "Send a test" }).click();
  await hook.getByRole("button", { name: "Deliveries" }).click();
  await until(
    "the test delivery to be delivered",
    async () => (await text(page.locator("section[aria-labelledby='deliveries-title'] .badge").first())) === "delivered",
  );
  await shot(page, "11-webhooks");
  log("webhook added, test delivered");

  step = "phone screen";
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
  const small = await phone.newPage();
  watch(small);
  await small.goto(BASE_URL);
  await small.evaluate((key) => sessionStorage.setItem("vcs.apiKey", key), env("API_KEY"));
  await small.reload();
  await small.getByRole("link", { name: "Browser campaign" }).waitFor();
  const overflow = await small.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (overflow > 1) throw new Error(`the list is ${overflow}px wider than a phone screen`);
  await shot(small, "10-campaigns-phone");
  log("phone layout fits");

  if (problems.length) throw new Error(problems.join("\n"));
  log("all steps passed");
} catch (error) {
  console.error(`[console e2e] FAILED at "${step}": ${error.stack ?? error}`);
  if (problems.length) console.error(problems.join("\n"));
  process.exitCode = 1;
} finally {
  await browser.close();
}
