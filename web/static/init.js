// Progressive enhancement only: every page works without this (GOV.UK Frontend's components).
import { initAll } from "./govuk-frontend.min.js";
initAll();
