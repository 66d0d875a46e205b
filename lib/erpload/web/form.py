"""The start form in Locust's web UI: the load profile as a first-class choice, checked before /swarm.

What Locust 2.47's React form offers (read from web.py `update_template_args` and the webui build):
Users and Ramp up are always shown, disabled only when `template_args["hide_common_options"]` is
true; extra options (ours) sit in a collapsed "Custom parameters" accordion, each labelled
"<Name> (<help>)" on one line and ordered by name (Flask's `tojson` sorts keys); Locust's own
"Profile" (a run tag, `environment.profile`) is always in "Advanced options". So:

- the profile dropdown always submits a profile (it has no empty entry), so a UI run is always a
  profile run: `hide_common_options` disables Users, Ramp up and Run time (and Edit while running);
- help texts are rewritten into short labels ("10%%" was argparse escaping leaking through);
- a small stylesheet and script on the index page hide those disabled fields and Locust's
  "Profile", put the load profile first and open "Custom parameters" once, by a click (React's own
  handler), so the dropdown is visible on arrival. Without the script the form still works.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from flask import Response, jsonify, request
from locust.env import Environment

from erpload.core.errors import ConfigError
from erpload.core.hosts import check_host
from erpload.locust import apimap
from erpload.locust.checks import credential_needs, running_roles
from erpload.profile import load_profile
from erpload.report import check_report_dir
from erpload.report.history_pool import resolve_baseline
from erpload.report.rows import ProfileChoices, profile_choices
from erpload.web.login import is_authorized

__all__ = ["FORM_HELP", "install_form", "load_profile_choices", "short_help", "validate_swarm"]
log = logging.getLogger("erpload")

# The parser is rebuilt for every start-form render (argument_parser.ui_extra_args_dict), so the
# profile given on the command line is kept here to stay selectable in the dropdown.
_EXTRA_CHOICES: list[str] = []

# Labels for erpload's own options: the UI shows "<Name> (<help>)" on one line, so these are short.
FORM_HELP = {
    "load_profile": "erpload: stages, role mix and SLA rules; sets users, ramp-up and run time",
    "report_dir": "folder for summary.json, junit.xml, summary.md, report.html",
    "baseline": "summary.json of an earlier run to compare against",
    "baseline_tolerance": "allowed regression against the baseline: 0.10 = 10%",
    "api_map": "how your ERP speaks (YAML); empty: the profile's api:, else the reference",
}
HELP_MAX = 70  # characters of help that fit a label on the form's width
PARENTHESIS = re.compile(r"\s*\([^()]*\)")

STYLE_AND_SCRIPT = """
<style id="erpload-form">
  /* a profile drives the run: Users and Ramp up are disabled by Locust (hide_common_options) */
  .MuiFormControl-root:has(input[name="userCount"]:disabled),
  .MuiFormControl-root:has(input[name="spawnRate"]:disabled),
  .MuiAutocomplete-root:has(input[name="profile"]) { display: none; }
  /* the load profile first among the custom parameters */
  .MuiFormControl-root:has(select[name="loadProfile"]) { order: -1; }
</style>
<script id="erpload-form-js">
  // Open "Custom parameters" once, when it first appears with the load profile in it (a click: the
  // accordion's own handler), so the profile dropdown is visible without hunting for it.
  (function () {
    const opened = new WeakSet();
    const open = () => {
      document.querySelectorAll("select[name=loadProfile]").forEach((select) => {
        const accordion = select.closest(".MuiAccordion-root");
        const summary = accordion && accordion.querySelector("[aria-expanded]");
        if (!summary || opened.has(accordion)) return;
        opened.add(accordion);
        if (summary.getAttribute("aria-expanded") === "false") summary.click();
      });
    };
    new MutationObserver(open).observe(document.documentElement, { childList: true, subtree: true });
  })();
</script>
"""


def load_profile_choices(directory: Path) -> ProfileChoices:
    """`choices` for --load-profile: the dropdown lists `directory`'s profiles; any path stays valid."""
    return profile_choices(Path(directory), _EXTRA_CHOICES)


def remember_choice(path: str) -> None:
    """Keep the command line's profile in the dropdown (first: the form pre-selects it)."""
    if path and path not in _EXTRA_CHOICES:
        _EXTRA_CHOICES.append(path)


def short_help(text: str | None) -> str:
    """One line of help for a form label: argparse's %% unescaped, no asides, the first clause."""
    text = " ".join((text or "").replace("%%", "%").split())
    while (shorter := PARENTHESIS.sub("", text)) != text:  # "(default 90)": the field shows it
        text = shorter
    text = re.split(r"[.;] ", text, maxsplit=1)[0].strip()
    return text if len(text) <= HELP_MAX else text[: HELP_MAX - 1].rstrip() + "…"


def _form_args(web_ui: Any) -> None:
    """Post-process Locust's template args for the start form (called after each rebuild)."""
    args = web_ui.template_args
    extra = args.get("extra_options") or {}
    for name, option in extra.items():
        option["help_text"] = FORM_HELP.get(name) or short_help(option.get("help_text"))
    if (extra.get("load_profile") or {}).get("choices"):
        args["hide_common_options"] = True  # the dropdown always submits a profile: it drives the run


def install_form(web_ui: Any) -> None:
    """Rewrite the form's template args on every render and add the form's style and script."""
    original = web_ui.update_template_args

    def update_template_args() -> None:
        original()
        try:
            _form_args(web_ui)
        except Exception:  # a label must never break the UI
            log.exception("erpload: adjusting the start form failed")

    web_ui.update_template_args = update_template_args  # index() calls self.update_template_args()
    update_template_args()

    @web_ui.app.after_request
    def _style_index(response: Response) -> Response:
        if (
            request.endpoint == "locust.index"
            and response.status_code == 200
            and response.mimetype == "text/html"
        ):
            page = response.get_data(as_text=True)
            at = page.find("</head>")
            if at >= 0 and 'id="erpload-form"' not in page:
                response.set_data(page[:at] + STYLE_AND_SCRIPT + page[at:])
        return response


def validate_swarm(env: Environment, web_ui: Any) -> Response | None:
    """The start form's profile, API map, host, baseline and report dir, checked before /swarm starts
    (then the map against the host, as a headless start does): errors go to the form."""
    if request.endpoint != "locust.swarm" or request.method != "POST" or not is_authorized(web_ui):
        return None
    path = request.form.get("load_profile", "").strip()
    host = request.form.get("host", "").strip() or env.host
    baseline = request.form.get("baseline", "").strip()
    report_dir = request.form.get("report_dir", "").strip()
    api_option = request.form.get("api_map")  # absent (a script's POST): the command line's
    api_option = apimap.option_path(env.parsed_options) if api_option is None else api_option.strip()
    try:  # the same checks as a headless start (erpload.locust.checks), so a typo never costs a run
        profile = load_profile(path, known_roles=[c.__name__ for c in env.user_classes]) if path else None
        api_map = apimap.select_api_map(api_option, profile)  # shipped to workers at test_start
        if host:
            host = check_host(host)
        if baseline:  # a summary.json, or history:BRANCH[:N] of the form's (or command line's) --history
            history = request.form.get("history") or getattr(env.parsed_options, "history", "") or ""
            resolve_baseline(baseline, history.strip(), profile.name if profile else "")
        if report_dir:
            check_report_dir(report_dir)
        needs = credential_needs(env.user_classes, running_roles(profile) if profile else None)
        if host and needs:  # last: the only check that sends anything (login plus one list call)
            apimap.preflight(host, api_map)
    except ConfigError as e:
        text = e.render()
        log.error("erpload: not starting: %s", text)
        return jsonify({"success": False, "message": text, "host": env.host})
    return None
