// Page object for the wizard: role and label locators only.
import { expect, Page, Locator } from "@playwright/test";
import * as fs from "node:fs";
import * as net from "node:net";
import type { Harness } from "../global-setup";

export function harness(): Harness {
  const file = process.env.IMAPCOPY_HARNESS;
  if (!file) throw new Error("IMAPCOPY_HARNESS is not set: run through playwright.config.ts");
  return JSON.parse(fs.readFileSync(file, "utf8"));
}

export type Account = {
  preset?: string;
  login: string;
  password: string;
  host: string;
  ssl: boolean;
};

export class WizardPage {
  constructor(readonly page: Page, readonly javaScript: boolean) {}

  async open() {
    await this.page.goto("/");
    if (this.javaScript) {
      // Set by an effect, which only runs in the browser once the WASM has hydrated the page.
      await expect(this.page.locator("body")).toHaveAttribute("data-hydrated", "true");
    }
  }

  step(name: RegExp): Locator {
    return this.page.getByRole("region", { name });
  }

  source(): Locator {
    return this.step(/source account/i);
  }

  destination(): Locator {
    return this.step(/destination account/i);
  }

  /** The preflight shown once both accounts are established. */
  preflight(): Locator {
    return this.step(/what the copy will do/i);
  }

  /** The preflight's mapping table row whose source folder is exactly `source`. */
  preflightRow(source: string): Locator {
    return this.preflight()
      .getByRole("table", { name: "Where each source folder goes" })
      .getByRole("row")
      .filter({ has: this.page.getByRole("rowheader", { name: source, exact: true }) });
  }

  async fill(step: Locator, account: Account) {
    if (account.preset) await step.getByLabel("Service", { exact: true }).selectOption({ label: account.preset });
    await step.getByLabel("Login", { exact: true }).fill(account.login);
    await step.getByLabel("Password", { exact: true }).fill(account.password);
    await step.getByLabel("IMAP server", { exact: true }).fill(account.host);
    await step.getByLabel("SSL", { exact: true }).setChecked(account.ssl);
  }

  async validate(step: Locator) {
    // The seed's wording: Validate for the source, Accept for the destination.
    await step.getByRole("button", { name: /^(Validate|Accept)$/ }).click();
  }
}

/**
 * One command to the harness's control port (`testkit serve`, see server/testkit/src/bin):
 * `hold`, `release`, `password slash|dot LOGIN PW`, `kick slash|dot LOGIN`,
 * `count slash|dot LOGIN MAILBOX TEXT`, `messages slash|dot LOGIN MAILBOX`. Returns what
 * follows `ok `; throws on `error …`.
 */
export function control(command: string): Promise<string> {
  const h = harness();
  return new Promise((resolve, reject) => {
    const socket = net.createConnection({ host: "127.0.0.1", port: h.control_port });
    let answer = "";
    socket.setTimeout(30_000, () => socket.destroy(new Error(`control: no answer to ${command}`)));
    socket.on("data", (chunk) => {
      answer += chunk.toString("utf8");
      const end = answer.indexOf("\n");
      if (end < 0) return;
      socket.end();
      const line = answer.slice(0, end);
      if (line.startsWith("ok")) resolve(line.slice(2).trim());
      else reject(new Error(`control ${command}: ${line}`));
    });
    socket.on("error", reject);
    socket.write(command + "\n");
  });
}

/** Fills and validates both steps ("Other" preset) and waits for both to be established. */
export async function validateBoth(
  wizard: WizardPage,
  user: { login: string; password: string },
  source: { host: string; ssl: boolean },
  destination: { host: string; ssl: boolean },
) {
  await wizard.open();
  const src = wizard.source();
  await wizard.fill(src, { preset: "Other", login: user.login, password: user.password, ...source });
  await wizard.validate(src);
  await expect(src.getByRole("status")).toContainText("Connection established.");
  const dst = wizard.destination();
  await wizard.fill(dst, { preset: "Other", login: user.login, password: user.password, ...destination });
  await wizard.validate(dst);
  await expect(dst.getByRole("status")).toContainText("Connection established.");
}

/** Header cells of the page's tables whose text takes more than one line: a header broken
 * inside a word ("Orig en") or between words. Wide tables scroll in their region instead. */
export async function brokenHeaders(page: Page): Promise<string[]> {
  return page.locator("thead th").evaluateAll((cells) =>
    cells
      .filter((th) => {
        const range = document.createRange();
        range.selectNodeContents(th);
        const lines = new Set(Array.from(range.getClientRects()).map((box) => Math.round(box.top)));
        return lines.size > 1;
      })
      .map((th) => th.textContent ?? ""),
  );
}
