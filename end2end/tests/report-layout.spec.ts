// The report e-mail's HTML (the reviewed snapshots the Rust test `report_snapshot` writes) in a
// 600 px mail column: nothing wider than the column, with its styles and with every style
// stripped as some mail clients do. Screenshots of both stay as artifacts.
import { test, expect, Page } from "@playwright/test";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const snapshots = join(__dirname, "..", "..", "server", "tests", "snapshots");

async function widest(page: Page): Promise<number> {
  return page.evaluate(() => {
    let max = document.documentElement.scrollWidth;
    for (const el of Array.from(document.querySelectorAll("body *"))) {
      max = Math.max(max, Math.ceil(el.getBoundingClientRect().right));
    }
    return max;
  });
}

for (const lang of ["es", "en", "fr"]) {
  test(`report e-mail in ${lang} fits a 600 px column, styled and unstyled`, async ({ page, javaScriptEnabled }, testInfo) => {
    test.skip(!javaScriptEnabled, "a static mail body: measured once, from the hydrated project");
    const html = readFileSync(join(snapshots, `report_${lang}.html`), "utf8");
    // A fixture that is not the report would prove nothing.
    expect(html).toContain("<table");
    expect(html).toContain(`lang="${lang}"`);
    await page.setViewportSize({ width: 600, height: 900 });
    for (const [name, body] of [
      ["styled", html],
      ["unstyled", html.replace(/\sstyle="[^"]*"/g, "")],
    ] as const) {
      await page.setContent(body);
      expect(await widest(page), `${lang} ${name}`).toBeLessThanOrEqual(600);
      // The completeness table keeps its borders without styles (attributes, not CSS).
      await expect(page.locator("table[border='1']").first()).toBeVisible();
      await page.screenshot({ path: testInfo.outputPath(`report-${lang}-${name}.png`), fullPage: true });
    }
  });
}
