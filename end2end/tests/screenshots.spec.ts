// Full-page screenshots of each wizard step, in Spanish, English and French, desktop and 360 px wide,
// saved as test artifacts (test-results/…/screens). They also prove the Spanish wording renders.
import { test, expect } from "@playwright/test";
import { harness } from "./wizard-page";

const labels = {
  en: { login: "Login", password: "Password", server: "IMAP server", validate: "Validate", accept: "Accept", ok: "Connection established.", sync: "Synchronize" },
  es: { login: "Login", password: "Password", server: "Servidor IMAP", validate: "Validar", accept: "Aceptar", ok: "Se ha establecido la conexión.", sync: "Sincronizar" },
  fr: { login: "Identifiant", password: "Mot de passe", server: "Serveur IMAP", validate: "Valider", accept: "Accepter", ok: "Connexion établie.", sync: "Synchroniser" },
};

for (const lang of ["es", "en", "fr"] as const) {
  for (const width of [1280, 360]) {
    test(`wizard steps in ${lang} at ${width} px`, async ({ page, javaScriptEnabled }, testInfo) => {
      test.skip(!javaScriptEnabled, "screenshots once, from the hydrated project");
      const h = harness();
      const t = labels[lang];
      await page.setViewportSize({ width, height: 900 });
      await page.goto(`/lang/${lang}`);
      await expect(page.locator("html")).toHaveAttribute("lang", lang);
      const shot = async (name: string) =>
        page.screenshot({ path: testInfo.outputPath(`screens/${lang}-${width}-${name}.png`), fullPage: true });
      await shot("1-source");
      const steps = page.locator("section.step");
      const fill = async (index: number, port: number) => {
        const step = steps.nth(index);
        await step.getByLabel(t.login, { exact: true }).fill(h.users[0].login);
        await step.getByLabel(t.password, { exact: true }).fill(h.users[0].password);
        await step.getByLabel(t.server, { exact: true }).fill(`localhost:${port}`);
        await step.getByRole("button", { name: index === 0 ? t.validate : t.accept, exact: true }).click();
        await expect(step.getByRole("status")).toContainText(t.ok);
      };
      await fill(0, h.slash.imaps_port);
      await shot("2-destination");
      await fill(1, h.dot.imaps_port);
      await expect(page.getByRole("button", { name: t.sync })).toBeVisible();
      await shot("3-synchronize");
    });
  }
}
