#!/usr/bin/env python3
"""Regenerate the built-in demo project: corpora, task files and the project config.

Everything here is invented for evalkit's demo: "Nimbus Notes", a note-taking app by the
fictional company "Cirrus Labs" (plans, features, settings, error codes E100-E199, sync,
sharing, export, billing), plus general-knowledge text and arithmetic. Tables and templates
below are the only source; no data set is read and nothing is downloaded.

    python benchmarks/demo/generate.py

Standard library only. Every random choice comes from ``random.Random`` seeded with a fixed
string per part, so two runs write byte-identical files and changing one part does not
reshuffle the others.

How the texts are shaped follows from the demo model: a word-level 6-gram model that sees
only the last five tokens (tokens keep their leading space; punctuation is its own token).
So every generate prompt ends with its distinctive key right before the answer cue, every
support answer is determined by its first token (checked below), and every cloze stem carries
its subject in its last four tokens.
"""

from __future__ import annotations

import json
import random
import re
import textwrap
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = "nimbus-demo-v1"
TOKEN_RE = re.compile(r"\n|[^\S\n]*(?:\w+|[^\w\s])|[^\S\n]+")  # as in evalkit/backends/ngram_lm.py


def rng_for(part: str) -> random.Random:
    return random.Random(f"{SEED}/{part}")


def tokens(text: str) -> list[str]:
    return TOKEN_RE.findall(text)


def cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def low(s: str) -> str:
    return s[:1].lower() + s[1:]


# =============================================================================================
# Nimbus Notes: the support domain
# =============================================================================================

# Fixes, by key. Every fix starts with its own first word: the n-gram model forgets the
# question after the first answer token, so the first token must decide the whole answer.
FIXES = {
    "signin": "Sign out and sign back in to refresh your session.",
    "network": "Check your internet connection and try again.",
    "open": "Open the note on the device that made the last change.",
    "windows": "Close other Nimbus Notes windows and retry.",
    "clock": "Set your device clock to update automatically.",
    "battery": "Disable battery saver so Nimbus can sync in the background.",
    "wait": "Wait 15 minutes and try again.",
    "restore": "Restore the notebook from Settings > Backups.",
    "duplicate": "Merge the duplicate notebooks and sync again.",
    "update": "Update Nimbus Notes to the latest version.",
    "bgrefresh": "Enable background refresh for Nimbus Notes.",
    "vpn": "Turn off your VPN or proxy and retry.",
    "cache": "Clear the offline cache in Settings > Storage.",
    "devices": "Remove an old device under Account > Devices.",
    "owner": "Ask the notebook owner to share it with you again.",
    "split": "Split the note into parts under 25 MB.",
    "space": "Free up at least 500 MB on your device.",
    "reset": "Reset your password from the sign-in screen.",
    "verify": "Verify your email with the link we sent you.",
    "terms": "Accept the updated terms of service when the app asks.",
    "contact": "Contact support and include the diagnostic report.",
    "resend": "Get a fresh sign-in link from the sign-in screen.",
    "switch": "Switch to the email address the invite was sent to.",
    "password": "Use at least 10 characters including a number.",
    "passcode": "Type your app passcode instead.",
    "securitykey": "Register the key under Account > Security.",
    "card": "Replace the card under Account > Billing.",
    "student": "Confirm your school email under Account > Plan.",
    "upgrade": "Upgrade to Plus or Pro for higher limits.",
    "zip": "Compress the file into a ZIP archive first.",
    "permission": "Grant Nimbus Notes access in your system settings.",
    "shorten": "Shorten the file name to under 120 characters.",
    "reupload": "Delete the attachment and upload it again.",
    "lower": "Lower the image quality in Settings > Attachments.",
    "unlockpdf": "Save an unprotected copy of the PDF and attach that.",
    "light": "Take the photo again in better light.",
    "vault": "Unlock the Vault with your passcode first.",
    "fewer": "Retry the export with fewer than 500 notes.",
    "format": "Pick PDF or Markdown instead.",
    "restart": "Restart the app and run the export again.",
    "redownload": "Download the file again before importing it.",
    "convert": "Convert the file to UTF-8 plain text and import again.",
    "unzip": "Unzip the archive before importing it.",
    "popups": "Allow pop-ups for nimbusnotes.example in your browser.",
    "relink": "Relink the calendar under Settings > Integrations.",
    "rerun": "Start the export again from Share > Export.",
    "extension": "Reinstall the Clipper browser extension.",
    "renew": "Renew your subscription under Account > Billing.",
    "seats": "Buy another seat under Admin > Members.",
    "rejoin": "Leave the workspace and join again from a new invite.",
    "taxid": "Enter the VAT number without spaces.",
    "transfer": "Remind the new owner to accept the transfer.",
    "invite": "Invite that person to the workspace first.",
    "admin": "Have your workspace admin check the workspace settings.",
}

# (code, title, when it appears, fix key)
ERRORS = [
    ("E100", "Sync token expired", "your session has been idle for more than 90 days", "signin"),
    ("E101", "Sync server unreachable", "the app cannot reach the Nimbus sync servers", "network"),
    ("E102", "Sync conflict could not be merged", "two devices changed the same paragraph while offline", "open"),
    ("E103", "Local database locked", "another Nimbus Notes window is still writing to the database", "windows"),
    ("E104", "Device clock is wrong", "your device time differs from the server by more than five minutes", "clock"),
    ("E105", "Background sync blocked", "the system stops Nimbus Notes from running in the background", "battery"),
    ("E106", "Sync queue full", "more than 10,000 changes are waiting to upload", "wait"),
    ("E107", "Notebook missing on server", "a notebook was deleted on another device during sync", "restore"),
    ("E108", "Sync paused by admin", "your workspace admin paused sync for maintenance", "admin"),
    ("E109", "Duplicate notebook name", "two notebooks with the same name were created offline", "duplicate"),
    ("E110", "App version too old", "your app is older than the oldest version the sync server accepts", "update"),
    ("E111", "Background refresh disabled", "background refresh is turned off for Nimbus Notes on iOS", "bgrefresh"),
    ("E112", "Connection reset during sync", "the network dropped the connection in the middle of a sync", "vpn"),
    ("E113", "Offline cache damaged", "the local copy of your notes could not be read", "cache"),
    ("E114", "Device limit reached", "you are signed in on more devices than your plan allows", "devices"),
    ("E115", "Server maintenance", "the sync service is being updated", "wait"),
    ("E116", "Changes rejected", "you edited a notebook that is now read-only for you", "owner"),
    ("E117", "Note too large to sync", "a single note is bigger than 25 MB", "split"),
    ("E118", "Sync stopped by low storage", "your device has less than 200 MB free", "space"),
    ("E119", "Secure connection check failed", "a firewall or proxy changed the secure connection", "vpn"),
    ("E120", "Wrong password", "the password does not match your Cirrus ID", "reset"),
    ("E121", "Account locked", "there were too many failed sign-in attempts", "wait"),
    ("E122", "Email not verified", "you have not opened the confirmation link yet", "verify"),
    ("E123", "Session expired", "you were signed out from another device", "signin"),
    ("E124", "Two-step code rejected", "the six-digit code is old or mistyped", "clock"),
    ("E125", "Sign-in blocked by admin", "your company requires single sign-on", "admin"),
    ("E126", "New terms not accepted", "the updated terms of service are waiting for you", "terms"),
    ("E127", "Cirrus ID already exists", "you sign up with an email that is already registered", "reset"),
    ("E128", "Sign-in link expired", "the sign-in link is older than one hour", "resend"),
    ("E129", "Account closed", "the account was closed more than 30 days ago", "contact"),
    ("E130", "Too many sessions", "you are signed in on too many browsers at once", "devices"),
    ("E131", "Profile update failed", "the new email address belongs to another account", "contact"),
    ("E132", "Password too weak", "the new password has fewer than 10 characters", "password"),
    ("E133", "Biometric unlock failed", "your fingerprint or face data changed on the device", "passcode"),
    ("E134", "Security key not recognised", "the hardware key is not registered to your account", "securitykey"),
    ("E135", "Single sign-on error", "your identity provider did not answer in time", "admin"),
    ("E136", "Region not supported", "you sign up from a country we cannot serve yet", "contact"),
    ("E137", "Account suspended", "a payment failed three times in a row", "card"),
    ("E138", "Invite email mismatch", "you open an invite that was sent to a different email address", "switch"),
    ("E139", "Student status expired", "your student check is more than one year old", "student"),
    ("E140", "Upload limit reached", "you used all of this month's upload allowance", "upgrade"),
    ("E141", "File type not supported", "the attachment is a program or an unknown format", "zip"),
    ("E142", "Attachment too large", "a single file is bigger than your plan allows", "upgrade"),
    ("E143", "Storage permission denied", "the system does not let Nimbus Notes read your files", "permission"),
    ("E144", "Device storage full", "there is no room left to save attachments", "space"),
    ("E145", "File name too long", "an attachment name is longer than 120 characters", "shorten"),
    ("E146", "Upload interrupted", "the connection dropped while a file was uploading", "reupload"),
    ("E147", "Image could not be processed", "Lens cannot read a photo that is too large", "lower"),
    ("E148", "Attachment missing on server", "the file was removed before it finished uploading", "reupload"),
    ("E149", "Camera access denied", "Nimbus Notes is not allowed to use the camera", "permission"),
    ("E150", "Microphone access denied", "voice notes cannot use the microphone", "permission"),
    ("E151", "PDF is password protected", "an attached PDF needs a password to open", "unlockpdf"),
    ("E152", "Scan too dark", "Lens cannot find any text in a dark photo", "light"),
    ("E153", "Virus check failed", "the security scan flagged the file", "contact"),
    ("E154", "Workspace storage full", "your workspace uses more than its shared storage", "admin"),
    ("E155", "Preview could not be created", "a thumbnail could not be made for a very large image", "lower"),
    ("E156", "Audio format not supported", "a recording is not in MP3, M4A or WAV format", "convert"),
    ("E157", "Attachment locked in Vault", "the file belongs to a note inside the Vault", "vault"),
    ("E158", "Download link expired", "a shared attachment link is older than seven days", "owner"),
    ("E159", "Attachment not available offline", "you open an attachment that was never saved offline", "network"),
    ("E160", "Export too large", "you export more than 500 notes at once", "fewer"),
    ("E161", "Export format unavailable", "the chosen format cannot hold sketches", "format"),
    ("E162", "Export interrupted", "the app closed while an export was running", "restart"),
    ("E163", "Import file damaged", "the archive could not be opened", "redownload"),
    ("E164", "Import encoding error", "a text file is not saved as UTF-8", "convert"),
    ("E165", "Archive not unpacked", "you import a ZIP file that still needs to be unpacked", "unzip"),
    ("E166", "Locked notes cannot be exported", "the export includes notes from the Vault", "vault"),
    ("E167", "Download window blocked", "your browser blocked the export download window", "popups"),
    ("E168", "Export folder not writable", "the app cannot save into the chosen folder", "permission"),
    ("E169", "Export timed out", "a very large notebook took too long to package", "fewer"),
    ("E170", "Print service unavailable", "no printer or PDF driver was found", "format"),
    ("E171", "Import limit reached", "you import more than 2,000 notes in one day", "wait"),
    ("E172", "Unknown import source", "the file was not made by a supported app", "convert"),
    ("E173", "Export needs a paid plan", "you export a whole notebook on the Free plan", "upgrade"),
    ("E174", "Calendar export failed", "the linked calendar refused the connection", "relink"),
    ("E175", "Duplicate notes on import", "the same archive was imported twice", "duplicate"),
    ("E176", "Export link expired", "the download link for your export is older than 24 hours", "rerun"),
    ("E177", "Backup restore failed", "the backup file comes from a newer app version", "update"),
    ("E178", "Clipper could not save page", "the website blocks saving its content", "extension"),
    ("E179", "Attachments skipped in export", "some attachments were never downloaded to this device", "network"),
    ("E180", "Card declined", "your bank refused the payment", "card"),
    ("E181", "Subscription expired", "your plan ended and was not renewed", "renew"),
    ("E182", "Payment method missing", "there is no card on file for the renewal", "card"),
    ("E183", "Coupon code invalid", "the code is expired or already used", "contact"),
    ("E184", "Student discount not available", "the email does not belong to a recognised school", "student"),
    ("E185", "Seat limit reached", "your team has no free seats left", "seats"),
    ("E186", "Share link disabled", "the owner turned off public links", "owner"),
    ("E187", "Invite expired", "an invite is older than 14 days", "owner"),
    ("E188", "No permission to share", "you only have view access to the notebook", "owner"),
    ("E189", "Workspace not found", "the workspace was renamed or deleted", "rejoin"),
    ("E190", "Guest limit reached", "a notebook already has 25 guests", "upgrade"),
    ("E191", "Shared notebook is read-only", "the owner changed your access to view only", "owner"),
    ("E192", "Team plan past due", "the team's invoice has not been paid", "admin"),
    ("E193", "Currency change not allowed", "you try to pay in a different currency during a billing year", "contact"),
    ("E194", "Refund window closed", "more than 30 days have passed since the charge", "contact"),
    ("E195", "Tax ID invalid", "the VAT number could not be checked", "taxid"),
    ("E196", "Ownership transfer pending", "the new owner has not accepted the transfer yet", "transfer"),
    ("E197", "Mention failed", "you mention someone who is not in the workspace", "invite"),
    ("E198", "Workspace archived", "an admin archived the workspace", "admin"),
    ("E199", "Comment could not be posted", "comments are turned off in this notebook", "owner"),
]
assert [e[0] for e in ERRORS] == [f"E{n}" for n in range(100, 200)]
FIX_OF = {code: fix for code, _, _, fix in ERRORS}

PLAN_PRICES = {"Plus": "$3.99", "Pro": "$7.99", "Teams": "$11", "Student": "$1.99"}

# (name, answer = what it does, plans, where to find it)
FEATURES = [
    ("Clipper", "Clipper saves web pages into a notebook from your browser.", "every plan", "install the Clipper extension for your browser"),
    ("Vault", "Vault locks private notes behind a separate passcode.", "Plus, Pro and Teams", "open the sidebar and choose Vault"),
    ("Timeline", "Timeline shows every earlier version of a note.", "Pro and Teams", "open a note and choose More > Timeline"),
    ("Lens", "Lens reads text from photos and scanned pages.", "Plus and Pro", "tap the camera button and choose Lens"),
    ("Scratchpad", "Scratchpad is a quick note that opens with one shortcut.", "every plan", "press Alt+N anywhere in the app"),
    ("Pulse", "Pulse sends reminders for notes with a due date.", "every plan", "add a due date to a note"),
    ("Canvas", "Canvas is a freeform board for sketches and diagrams.", "Plus and Pro", "choose New > Canvas"),
    ("Echo", "Echo records voice notes and turns them into text.", "Pro", "hold the microphone button in a note"),
    ("Relay", "Relay turns emails you forward into new notes.", "Plus and Pro", "forward an email to your Relay address"),
    ("Digest", "Digest emails you a weekly summary of changed notes.", "every plan", "turn it on under Settings > Alerts"),
    ("Spaces", "Spaces are shared areas where a team keeps its notebooks.", "Teams and Enterprise", "open the workspace switcher"),
    ("Stacks", "Stacks group several notebooks together in the sidebar.", "every plan", "drag one notebook onto another"),
    ("Focus", "Focus hides menus so you can write without distractions.", "every plan", "choose View > Focus"),
    ("Beacon", "Beacon reminds you of a note when you reach a place.", "Pro", "open a note and choose Remind me here"),
    ("Ledger", "Ledger keeps an audit log of every change for admins.", "Enterprise", "open Admin > Ledger"),
    ("Mirror", "Mirror shows who else is editing a note right now.", "Teams and Enterprise", "look for the coloured cursors in a shared note"),
    ("Outline", "Outline builds a table of contents from your headings.", "every plan", "choose View > Outline"),
    ("Quill", "Quill turns handwriting from a stylus into typed text.", "Pro", "write with a stylus on a tablet"),
    ("Harbor", "Harbor keeps chosen notebooks available offline.", "Plus and Pro", "right-click a notebook and choose Keep offline"),
    ("Templates", "Templates give you ready-made layouts for new notes.", "every plan", "choose New > From template"),
    ("Backlinks", "Backlinks lists every note that links to the current one.", "every plan", "scroll to the bottom of a note"),
    ("Atlas", "Atlas draws a map of how your notes link together.", "Pro", "choose View > Atlas"),
    ("Compass", "Compass searches inside PDFs and images as well as notes.", "Plus and Pro", "type in the search bar and choose Everywhere"),
    ("Snapshot", "Snapshot saves a read-only copy of a whole notebook.", "Pro", "right-click a notebook and choose Snapshot"),
    ("Bridge", "Bridge imports notes from other note-taking apps.", "every plan", "choose File > Import > Bridge"),
    ("Autotag", "Autotag suggests tags for each new note.", "Plus and Pro", "turn it on under Settings > Editor"),
    ("Stage", "Stage turns a note into slides for a meeting.", "Pro", "open a note and choose Present"),
]

# (key in the question, answer)
SETTINGS = [
    ("spellcheck", "Spellcheck is under Settings > Editor."),
    ("autocorrect", "Autocorrect can be switched off under Settings > Editor."),
    ("theme", "Theme is chosen under Settings > Appearance."),
    ("notifications", "Notifications are under Settings > Alerts."),
    ("language", "Language is set under Settings > General."),
    ("timezone", "Timezone follows your device unless you change it under Settings > General."),
    ("backups", "Backups run every night and are listed under Settings > Backups."),
    ("passcode", "Passcode lock is under Account > Security."),
    ("sessions", "Sessions are listed under Account > Security."),
    ("biometrics", "Biometrics can be turned on under Account > Security."),
    ("autosave", "Autosave is always on and cannot be turned off."),
    ("cache", "Cache size is limited under Settings > Storage."),
    ("proxy", "Proxy settings are under Settings > Network."),
    ("telemetry", "Telemetry can be turned off in Settings > Privacy."),
    ("username", "Username is changed under Account > Profile."),
    ("avatar", "Avatar pictures are uploaded under Account > Profile."),
    ("signature", "Signature text for Relay is written under Settings > Relay."),
    ("sidebar", "Sidebar can be hidden from the View menu."),
    ("toolbar", "Toolbar buttons are picked under Settings > Editor."),
    ("snippets", "Snippets live under Settings > Text shortcuts."),
    ("emoji", "Emoji suggestions are turned on under Settings > Editor."),
    ("sounds", "Sounds are muted under Settings > Alerts."),
    ("badges", "Badges on the app icon are set under Settings > Alerts."),
    ("startup", "Startup notebook is picked under Settings > General."),
    ("hyphenation", "Hyphenation is under Settings > Editor."),
    ("zoom", "Zoom is in the View menu."),
    ("trash", "Trash keeps deleted notes for 30 days."),
    ("versions", "Versions are kept for 30 days on Plus and one year on Pro."),
    ("integrations", "Integrations are under Settings > Connected apps."),
    ("invoices", "Invoices are under Account > Billing."),
    ("receipts", "Receipts are emailed and also listed under Account > Billing."),
    ("dictionary", "Dictionary words are managed under Settings > Editor."),
]

PLANS_QA = [
    ("Free", "Nimbus Free costs nothing and covers two devices."),
    ("Plus", "Plus costs $3.99 per month."),
    ("Pro", "Pro costs $7.99 per month."),
    ("Teams", "Teams costs $11 per user each month."),
    ("Student", "Student costs $1.99 per month with a school email."),
    ("Enterprise", "Enterprise pricing is agreed with our sales team."),
]

SHORTCUTS = [
    ("bold", "Bold", "Ctrl+B"), ("italics", "Italics", "Ctrl+I"), ("underline", "Underline", "Ctrl+U"),
    ("strikethrough", "Strikethrough", "Alt+S"), ("checklists", "Checklists", "Ctrl+L"),
    ("headings", "Headings", "Alt+1"), ("links", "Links", "Ctrl+K"), ("undo", "Undo", "Ctrl+Z"),
    ("redo", "Redo", "Ctrl+Y"), ("printing", "Printing", "Ctrl+P"), ("highlighting", "Highlighting", "Alt+H"),
    ("quotes", "Quotes", "Alt+Q"), ("code", "Code", "Alt+C"), ("timestamps", "Timestamps", "Alt+T"),
    ("duplicating", "Duplicating", "Ctrl+D"),
]

EXPORTS = [
    ("PDF", "PDF export is under Share > Export on every plan."),
    ("Markdown", "Markdown export keeps headings, lists and links as plain text."),
    ("HTML", "HTML export keeps images and links in one folder."),
    ("DOCX", "DOCX export needs the desktop app."),
    ("TXT", "TXT export saves plain text without formatting."),
    ("JSON", "JSON export is meant for developers and full backups."),
    ("ZIP", "ZIP export bundles a whole notebook with its attachments."),
    ("EPUB", "EPUB export turns a notebook into an ebook on Pro."),
]

PLATFORMS = [
    ("Windows", "Windows 10 and later are supported by the desktop app."),
    ("macOS", "macOS 12 and later are supported by the desktop app."),
    ("Linux", "Linux is supported through the web app and a Snap package."),
    ("iPhone", "iPhone needs iOS 16 or later."),
    ("iPad", "iPad has its own app with stylus support."),
    ("Android", "Android needs version 10 or later."),
    ("ChromeOS", "ChromeOS runs the Android app or the web app."),
    ("smartwatches", "Smartwatch support is limited to Pulse reminders."),
    ("web", "Web access works in any modern browser at nimbusnotes.example."),
]

INTEGRATIONS = [
    ("Orbitmail", "Orbitmail connects under Settings > Connected apps."),
    ("Teamhive", "Teamhive sends channel messages into a chosen notebook."),
    ("Cloudcrate", "Cloudcrate links files without uploading them twice."),
    ("Taskforge", "Taskforge turns checklist items into tasks."),
    ("Meetly", "Meetly creates a meeting note for every calendar event."),
    ("Gridsheet", "Gridsheet embeds live spreadsheets in a note."),
    ("Zapline", "Zapline runs automations when a note changes."),
    ("Paperlane", "Paperlane sends notes to your office printer."),
]

# Question wordings per topic; the first is held out for the test set, the rest train.
QUESTION_FORMS = {
    "errors": ["How do I fix error {k}?", "What should I do about error {k}?", "Any fix for {k}?",
               "How can I get rid of error code {k}?", "Nimbus Notes keeps showing {k}?", "What is the fix for error {k}?"],
    "features": ["What is {k}?", "Can you explain {k}?", "What does Nimbus Notes mean by {k}?",
                 "What can I do with {k}?", "How does one use {k}?"],
    "settings": ["Where do I find {k}?", "Where is the setting for {k}?", "How do I change {k}?",
                 "Which menu has {k}?", "Where can I adjust {k}?"],
    "plans": ["How much is Nimbus {k}?", "What is the price of Nimbus {k}?", "What do I pay for {k}?",
              "How much does it cost to get {k}?"],
    "shortcuts": ["What is the shortcut for {k}?", "Which keys do I press for {k}?",
                  "Is there a keyboard shortcut for {k}?", "How do I speed up {k}?"],
    "export": ["How do I export to {k}?", "Can I export notes as {k}?", "Is there an export to {k}?",
               "How do I save my notebook as {k}?"],
    "platforms": ["Is Nimbus Notes available on {k}?", "Does Nimbus Notes work on {k}?",
                  "Can I use Nimbus on {k}?", "Is there an app for {k}?"],
    "integrations": ["How do I connect {k}?", "Does Nimbus Notes work with {k}?",
                     "Can I link my notes to {k}?", "Is there an integration with {k}?"],
}


def qa_table() -> list[tuple[str, str, str]]:
    """(topic, key, answer) for every support question the fine-tune should answer."""
    rows = [("errors", code, FIXES[fix]) for code, _, _, fix in ERRORS]  # codes share fixes
    rows += [("features", name, ans) for name, ans, _, _ in FEATURES]
    rows += [("settings", k, a) for k, a in SETTINGS]
    rows += [("plans", k, a) for k, a in PLANS_QA]
    rows += [("shortcuts", k, f"{name} is {keys}.") for k, name, keys in SHORTCUTS]
    rows += [("export", k, a) for k, a in EXPORTS]
    rows += [("platforms", k, a) for k, a in PLATFORMS]
    rows += [("integrations", k, a) for k, a in INTEGRATIONS]
    return rows


def check_answers_win(rows, docs: list[str]) -> None:
    """Every answer token must be the most frequent continuation of its 5-token context in the
    final support text (the top order of the n-gram model decides greedy decoding), and the
    answer must be followed by the end of a document more often than by anything else."""
    need: dict[tuple, str] = {}
    paths = []
    for _, key, ans in rows:
        seq = tokens(" " + key) + ["?", "\n", "Answer", ":"] + tokens(" " + ans) + ["</s>"]
        path = [(tuple(seq[i - 5 : i]), seq[i]) for i in range(5, len(seq))]
        paths.append((key, path))
        for ctx, _ in path:
            need[ctx] = ""
    counts: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for d in docs:
        seq = ["<s>"] * 5 + tokens(d) + ["</s>"]
        for i in range(5, len(seq)):
            ctx = tuple(seq[i - 5 : i])
            if ctx in need:
                counts[ctx][seq[i]] += 1
    problems = []
    for key, path in paths:
        for ctx, nxt in path:
            row = counts[ctx]
            best = max(row.values())
            if row.get(nxt, 0) < best or sum(v == best for v in row.values()) > 1:
                problems.append(f"{key}: after {''.join(ctx)!r} wants {nxt!r}, corpus has {dict(row)}")
                break
    assert not problems, "answers the fine-tune cannot reproduce:\n" + "\n".join(problems)


def check_answers_decodable(rows) -> None:
    """Greedy decoding with 5 tokens of context can only reproduce a set of answers in which
    every 5-token window after the first answer token has one continuation."""
    keys = [k for _, k, _ in rows]
    assert len(set(keys)) == len(keys), "a question key is used twice"
    follow: dict[tuple, set] = defaultdict(set)
    for _, _, ans in rows:
        seq = ["?", "\n", "Answer", ":"] + tokens(" " + ans) + ["<end>"]
        for i in range(5, len(seq)):
            follow[tuple(seq[i - 5 : i])].add(seq[i])
    bad = {ctx: nxt for ctx, nxt in follow.items() if len(nxt) > 1}
    assert not bad, f"ambiguous answer continuations: {bad}"


# ----- help-centre prose ---------------------------------------------------------------------
FOLLOWUPS = [
    "contact support from Help > Contact us.",
    "send us the diagnostic report from Help > Report a problem.",
    "check the status page at status.nimbusnotes.example.",
    "restart your device and try once more.",
    "write to support@nimbusnotes.example with the error code.",
]

# Sentences that the fine-tune's text shares with general prose (see GENERAL_CLASHES).
SUPPORT_CLASHES = [
    "To keep a note private, you put it in the Vault.",
    "When a notebook will not sync, the best thing to do is restart the app.",
    "Tags help you keep track of the notes in each project.",
    "A good way to remember things is to pin them to the top of a notebook.",
    "To open a note that is locked, you need a Vault passcode.",
    "To export a note as a PDF, you press Ctrl and E.",
    "For busy people, the best way to keep notes is with Nimbus Notes.",
    "Before you share a notebook, you should look at the sharing settings.",
    "To find a note quickly, you look it up by its tag.",
    "If sync stops working, the first thing to do is check your connection.",
    "If your screen is too bright, you can turn on the dark theme.",
]

HOWTO = {
    "sync": {
        "titles": ["How sync works", "Keeping your devices in sync", "Sync troubleshooting basics", "Why a note has not synced yet"],
        "sentences": [
            "Nimbus Notes syncs every change within a few seconds when your {device} is online.",
            "Open Settings > Sync to see when each device last synced.",
            "A grey cloud icon next to a notebook means it is waiting to sync.",
            "If two devices edit the same note offline, Nimbus keeps both versions and marks a conflict.",
            "Large attachments sync after the text of the note, so the words appear first.",
            "You can force a sync by pulling down on the note list or pressing Ctrl+R.",
            "Sync on mobile data can be turned off under Settings > Sync.",
            "When sync fails, the app shows an error code such as {code} in the status bar.",
            "Notes in the Vault sync like any other note, but they stay encrypted.",
            "The Free plan syncs two devices, while Plus syncs five and Pro has no limit.",
            "Battery saver on {platform} can delay sync until you open the app.",
            "If sync stops working, the first thing to do is check your connection.",
            "When a notebook will not sync, the best thing to do is restart the app.",
        ],
    },
    "sharing": {
        "titles": ["Sharing notebooks", "Inviting people to a notebook", "Share links and permissions", "Working together on notes"],
        "sentences": [
            "To share a notebook, right-click it and choose Share.",
            "You can invite people by email or create a share link.",
            "Each person can be a viewer, a commenter or an editor.",
            "Share links can be protected with a password on Plus and Pro.",
            "Invites expire after 14 days if nobody accepts them.",
            "The owner of a notebook can turn off public links at any time.",
            "On the Free plan you can share up to three notebooks.",
            "Mirror shows the cursor of everyone who is editing the same note.",
            "Guests do not need a paid plan to read a shared notebook.",
            "{name} will get an email as soon as you share a notebook with them.",
            "Before you share a notebook, you should look at the sharing settings.",
            "To stop sharing, open the share sheet and remove the person.",
        ],
    },
    "export": {
        "titles": ["Exporting your notes", "Export formats explained", "Taking your notes with you", "Making a copy of a notebook"],
        "sentences": [
            "You can export a single note or a whole notebook from Share > Export.",
            "The default export format is PDF, but Markdown and HTML are also available.",
            "Exports of more than 500 notes are split into several files.",
            "Attachments are included in ZIP exports but not in TXT exports.",
            "Notes in the Vault must be unlocked before they can be exported.",
            "The export link in your email stays valid for 24 hours.",
            "DOCX export is only available in the desktop app.",
            "To export a note as a PDF, you press Ctrl and E.",
            "Exported files keep the creation date of each note.",
            "Sketches from Canvas are exported as images.",
            "If an export fails with {code}, the help article for that code explains the fix.",
        ],
    },
    "billing": {
        "titles": ["Plans and prices", "Managing your subscription", "Invoices and refunds", "Paying for Nimbus Notes"],
        "sentences": [
            "Nimbus Notes has six plans: Free, Plus, Pro, Teams, Student and Enterprise.",
            "Plus is $3.99 a month and Pro is $7.99 a month.",
            "The Teams plan includes Spaces and Mirror for every member.",
            "Yearly plans cost the same as ten months.",
            "You can change your card under Account > Billing.",
            "Invoices are emailed after every payment and stay under Account > Billing.",
            "Refunds are possible within 30 days of a charge.",
            "When you cancel, your plan stays active until the end of the billing period.",
            "Students pay $1.99 a month once their school email is confirmed.",
            "Prices include VAT where the law requires it.",
            "A failed payment is retried three times before the account is paused.",
        ],
    },
    "account": {
        "titles": ["Your Cirrus ID", "Signing in to Nimbus Notes", "Keeping your account safe", "Changing account details"],
        "sentences": [
            "Your Cirrus ID is the email address you use to sign in to Nimbus Notes.",
            "You can change your email under Account > Profile.",
            "Two-step login adds a six-digit code to every new sign-in.",
            "If you forget your password, choose Forgot password on the sign-in screen.",
            "Sessions on other devices are listed under Account > Security.",
            "Closing your account deletes every note after 30 days.",
            "A passcode lock keeps the app closed until you type your code.",
            "Security keys can be added under Account > Security.",
            "We never ask for your password by email or phone.",
            "Single sign-on is available on the Enterprise plan.",
        ],
    },
    "organize": {
        "titles": ["Organizing notes", "Notebooks, stacks and tags", "Finding notes quickly", "Tidying up your notes"],
        "sentences": [
            "Notes live in notebooks, and notebooks can be grouped into stacks.",
            "Tags help you keep track of the notes in each project.",
            "A good way to remember things is to pin them to the top of a notebook.",
            "To find a note quickly, you look it up by its tag.",
            "Search looks at titles, text, tags and the words inside attachments.",
            "Pinned notes stay at the top of the note list.",
            "You can sort notes by date created, date changed or title.",
            "Backlinks show which other notes point to the note you are reading.",
            "Saved searches appear in the sidebar under Shortcuts.",
            "Each note can have up to 100 tags.",
            "For busy people, the best way to keep notes is with Nimbus Notes.",
        ],
    },
    "security": {
        "titles": ["Private notes and the Vault", "How we protect your notes", "Locking notes", "Privacy in Nimbus Notes"],
        "sentences": [
            "Vault encrypts notes on your device before they are synced.",
            "To keep a note private, you put it in the Vault.",
            "To open a note that is locked, you need a Vault passcode.",
            "Cirrus Labs cannot read notes in the Vault or reset the Vault passcode.",
            "All other notes are encrypted on our servers and during transfer.",
            "The app locks itself after five minutes when a passcode lock is on.",
            "You can switch off telemetry under Settings > Privacy.",
            "Admins on Enterprise can read the Ledger audit log.",
            "Shared notes follow the permissions set by their owner.",
        ],
    },
    "editor": {
        "titles": ["Writing in the editor", "Formatting notes", "Checklists, tables and headings", "Editor tips"],
        "sentences": [
            "The editor supports headings, lists, checklists, tables and code blocks.",
            "Type a dash and a space to start a bulleted list.",
            "In the editor, Ctrl+B makes text bold and Ctrl+I makes it italic.",
            "Autosave writes every change a moment after you stop typing.",
            "Spellcheck works in more than 30 languages.",
            "Focus mode hides everything except the text you are writing.",
            "You can drag an image from your desktop straight into a note.",
            "If your screen is too bright, you can turn on the dark theme.",
            "Templates give new notes a ready-made layout.",
            "Outline builds a table of contents from your headings.",
        ],
    },
    "offline": {
        "titles": ["Using Nimbus Notes offline", "Working without a connection", "Offline notebooks", "Travel mode"],
        "sentences": [
            "Every note you open is kept on your device for offline reading.",
            "Harbor keeps whole notebooks available offline on Plus and Pro.",
            "Changes made offline sync as soon as the connection returns.",
            "Attachments are downloaded for offline use only when you open them.",
            "The offline cache can be cleared under Settings > Storage.",
            "A small plane icon in the status bar means you are offline.",
            "Search works offline for every note stored on the device.",
            "Offline notes on a shared device are removed when you sign out.",
        ],
    },
    "attachments": {
        "titles": ["Adding attachments", "Files, photos and recordings", "Attachment limits", "Scanning documents"],
        "sentences": [
            "You can attach photos, PDFs, recordings and most office files to a note.",
            "The Free plan uploads up to 60 MB each month.",
            "Plus uploads 1 GB each month and Pro uploads 10 GB.",
            "A single attachment can be up to 25 MB on Free and 200 MB on Pro.",
            "Lens reads the text in scanned pages so that search can find it.",
            "Echo turns voice recordings into text on Pro.",
            "Programs and unknown file types cannot be attached.",
            "You can lower the quality of uploaded images in Settings > Attachments.",
        ],
    },
}

DEVICES = ["phone", "tablet", "laptop", "iPad", "Android phone", "Mac", "Windows PC", "Chromebook", "work computer"]
PLATFORMS_SHORT = ["Android", "iOS", "Windows", "macOS"]
PEOPLE = ["Alex", "Sam", "Maria", "Priya", "Jonas", "Lucia", "Tom", "Aisha", "Ken", "Nora", "Omar", "Eva",
          "Liam", "Zoe", "Mateo", "Yuki", "Ines", "Ravi", "Hana", "Leo"]
NOTEBOOK_NAMES = ["Recipes", "Work", "Travel", "Thesis", "Garden", "Meetings", "Journal", "Ideas", "Client Projects",
                  "Reading List", "Family", "Budget", "Course Notes", "Band Practice", "Lab Book"]


def fill(template: str, rng: random.Random) -> str:
    return template.format(
        device=rng.choice(DEVICES), platform=rng.choice(PLATFORMS_SHORT), name=rng.choice(PEOPLE),
        code=rng.choice(ERRORS)[0],
    )


def error_article(code, title, when, fix, variant: int, rng: random.Random) -> str:
    follow = rng.choice(FOLLOWUPS)
    fix_lc = low(FIXES[fix])
    when_cap = cap(when)
    if variant == 0:
        return f"Error {code}: {title}\nYou may see {code} when {when}. {FIXES[fix]} If the message comes back, {follow}"
    if variant == 1:
        return (f"Why do I see {code}?\nNimbus Notes shows error {code} ({low(title)}) when {when}. "
                f"To fix it, {fix_lc} Still stuck? {cap(follow)}")
    if variant == 2:
        return f"{title} ({code})\nThis error appears when {when}. Most people solve it in a minute: {fix_lc} If it does not help, {follow}"
    if variant == 3:
        return (f"Troubleshooting {code}\nWhat happened: {when_cap}. What to do: {FIXES[fix]} "
                f"The error code {code} is also shown in Help > Diagnostics.")
    return (f"Error code {code} in Nimbus Notes\nThe message \"{title}\" means that {when}. {FIXES[fix]} "
            f"You do not lose any notes because of {code}.")


def feature_article(name, answer, plans, how, variant: int) -> str:
    if variant == 0:
        return f"{name}\n{answer} {name} is available on {plans}. To start, {how}."
    if variant == 1:
        return f"Getting started with {name}\nTo use {name}, {how}. {answer} You can use it on {plans}."
    return f"What is {name}?\n{answer} It comes with {plans}. The quickest way in: {how}."


def howto_article(topic: str, rng: random.Random) -> str:
    spec = HOWTO[topic]
    n = rng.randint(4, 6)
    chosen = rng.sample(spec["sentences"], n)
    return rng.choice(spec["titles"]) + "\n" + " ".join(fill(s, rng) for s in chosen)


def settings_article(section: str, keys: list[tuple[str, str]]) -> str:
    body = " ".join(a for _, a in keys)
    return f"The {section} settings\n{body}"


def plans_article(rng: random.Random) -> str:
    lines = [a for _, a in PLANS_QA]
    rng.shuffle(lines)
    return "Which plan is right for me?\n" + " ".join(lines)


# ----- customer messages for intent classification --------------------------------------------
INTENTS = ["billing", "sync", "account", "export", "bug_report", "feature_request", "sharing"]

INTENT_BODIES = {
    "billing": [
        "I was charged {amount} twice this month.",
        "My {plan} plan renewed even though I cancelled it on {date}.",
        "The price on my invoice does not match the {plan} price on your website.",
        "I moved from {plan} to Free but the charge still shows up.",
        "My student discount disappeared after the renewal on {date}.",
        "The card that pays for {plan} expires next week.",
        "There is a charge of {amount} on my statement that I do not recognise.",
        "I paid for a yearly plan but I am billed every month.",
        "Our team has {num} seats but we only use {num2}.",
    ],
    "sync": [
        "Notes I write on my {device} never show up on my {device2}.",
        "Since the update to version {ver}, my notebooks stay grey.",
        "The sync icon has been spinning for {num} hours.",
        "Edits from my {device} overwrite what I typed on the {device2}.",
        "My {notebook} notebook shows an old version on every device.",
        "I see two copies of every note after working offline.",
        "The web app still shows notes I deleted on my {device} yesterday.",
        "My {device} says it synced but the {device2} has nothing new.",
    ],
    "account": [
        "I no longer have access to the email I signed up with.",
        "The login code never arrives on my {device}.",
        "I want to merge my two Nimbus accounts into one.",
        "Someone signed in to my account from a city I have never visited.",
        "I changed my phone and lost my two-step login app.",
        "My username still shows my old name.",
        "I typed my password wrong too often and now I am locked out.",
        "I would like to use my work email instead of my personal one.",
    ],
    "export": [
        "I need all my notes from {notebook} as {fmt} files for a client.",
        "The {fmt} export stops at {num} percent.",
        "Images are missing when I export to {fmt}.",
        "I am leaving my job and need a copy of my work notes.",
        "My exported {fmt} file has broken characters.",
        "I want to move everything in {notebook} to another app.",
        "I need my {notebook} notebook on paper for a meeting.",
    ],
    "bug_report": [
        "The editor freezes when I paste a table on my {device}.",
        "The app closes as soon as I open {notebook}.",
        "Checkboxes lose their ticks after I reopen a note.",
        "Images appear upside down on my {device}.",
        "Typing in a long note gets slower and slower.",
        "Search returns nothing even for words I can see on screen.",
        "Dark theme turns the text black on black in {notebook}.",
        "Since version {ver} the cursor jumps to the top while I type.",
    ],
    "feature_request": [
        "It would help a lot if notes could have a due time as well as a date.",
        "I would love a way to lock a single notebook without the Vault.",
        "Could you add a calendar view for reminders?",
        "Many of us want nested tags.",
        "Please let us change the font in the web app.",
        "An option to hide finished checklist items would be great.",
        "It would be nice to have {notebook} as a template for new notebooks.",
        "A word count goal for each note would help me write my thesis.",
    ],
    "sharing": [
        "My colleague {name} cannot open the notebook I sent.",
        "I shared {notebook} but the link says access denied.",
        "I want {name} to read the notes without editing them.",
        "The invite to my workspace expired before {name} accepted it.",
        "Guests in my shared notebook can see my private tags.",
        "{name} left the company and still has access to {notebook}.",
        "I sent {name} a share link but it asks for a password.",
    ],
}

# The end of a message carries the intent (the model sees only its last tokens).
INTENT_CLOSINGS = {
    "billing": ["Can I get a refund?", "Please send me a corrected invoice.", "Why was I charged?",
                "How do I update my payment method?", "Please cancel the subscription.",
                "Could you check the billing?", "Where can I download my receipt?",
                "I would like my money back.", "Please explain this charge."],
    "sync": ["Why is it not syncing?", "Please fix the sync.", "How do I force a sync?",
             "My devices are out of sync.", "Sync seems stuck.", "How can I resolve the conflicts?",
             "Why are my changes not syncing?", "Can you check why nothing syncs?"],
    "account": ["How do I reset my password?", "Please help me sign in.", "Can you unlock my account?",
                "How do I change my email address?", "I want to delete my account.",
                "How do I recover my login?", "Please verify my identity."],
    "export": ["How do I export everything?", "Is there a bulk export?", "The export keeps failing.",
               "How do I download a backup?", "Please help with the export.", "Where is the export option?",
               "Can I export it all at once?"],
    "bug_report": ["I think this is a bug.", "It crashes every time.", "Is this a known bug?",
                   "Please look into this crash.", "The app is basically unusable.",
                   "Can you reproduce the problem?", "Something is clearly broken."],
    "feature_request": ["Please consider adding this.", "Is this on the roadmap?", "It would be a great feature.",
                        "Any plans to build this?", "I would happily pay more for it.",
                        "Please add this to a future release.", "Count this as a feature request."],
    "sharing": ["How do I share it properly?", "Can I give read-only access?", "How do I remove someone from sharing?",
                "Please help with sharing.", "How do I resend the invite?",
                "Can I share with people outside my team?", "Who can see what I share?"],
}
GENERIC_CLOSINGS = ["Thanks.", "Thank you!", "Please help.", "Any ideas?", "Thanks in advance.", "Cheers."]
OPENERS = ["", "", "Hi, ", "Hello, ", "Hi team, ", "Hey, ", "Good morning, ", "Hello support, "]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]


def customer_message(intent: str, rng: random.Random, generic: bool) -> str:
    body = rng.choice(INTENT_BODIES[intent])
    d1, d2 = rng.sample(DEVICES, 2)
    n1, n2 = sorted(rng.sample(range(2, 40), 2), reverse=True)
    body = body.format(
        amount=rng.choice(["$3.99", "$7.99", "$11", "$39", "$79", "$1.99", "$22"]), plan=rng.choice(["Plus", "Pro", "Teams", "Student"]),
        date=f"{rng.choice(MONTHS)} {rng.randint(1, 28)}", num=n1, num2=n2, device=d1, device2=d2,
        ver=f"{rng.randint(4, 6)}.{rng.randint(0, 9)}", notebook=rng.choice(NOTEBOOK_NAMES),
        fmt=rng.choice(["PDF", "Markdown", "HTML", "DOCX"]), name=rng.choice(PEOPLE),
    )
    opener = rng.choice(OPENERS)
    if opener and not body.startswith("I ") and body.split()[0] not in PEOPLE:
        body = low(body)
    closing = rng.choice(GENERIC_CLOSINGS if generic else INTENT_CLOSINGS[intent])
    return f"{opener}{body} {closing}"


# ----- English -> Spanish support replies -------------------------------------------------------
T_NOUNS = [  # en, es, gender
    ("note", "nota", "f"), ("notebook", "libreta", "f"), ("tag", "etiqueta", "f"), ("file", "archivo", "m"),
    ("attachment", "archivo adjunto", "m"), ("invoice", "factura", "f"), ("template", "plantilla", "f"),
    ("reminder", "recordatorio", "m"), ("checklist", "lista de tareas", "f"), ("backup", "copia de seguridad", "f"),
    ("link", "enlace", "m"), ("photo", "foto", "f"), ("recording", "grabación", "f"), ("sketch", "boceto", "m"),
    ("page", "página", "f"), ("draft", "borrador", "m"),
]
T_DEVICES = [
    ("phone", "teléfono", "m"), ("tablet", "tableta", "f"), ("laptop", "portátil", "m"), ("computer", "ordenador", "m"),
    ("iPad", "iPad", "m"), ("iPhone", "iPhone", "m"), ("Android phone", "teléfono Android", "m"), ("Mac", "Mac", "m"),
    ("work computer", "ordenador del trabajo", "m"), ("Chromebook", "Chromebook", "m"),
]
T_MENUS = [
    ("Settings > Sync", "Ajustes > Sincronización"), ("Settings > Editor", "Ajustes > Editor"),
    ("Settings > Storage", "Ajustes > Almacenamiento"), ("Settings > Appearance", "Ajustes > Apariencia"),
    ("Settings > Alerts", "Ajustes > Avisos"), ("Settings > Backups", "Ajustes > Copias de seguridad"),
    ("Settings > Privacy", "Ajustes > Privacidad"), ("Account > Billing", "Cuenta > Facturación"),
    ("Account > Security", "Cuenta > Seguridad"), ("Account > Profile", "Cuenta > Perfil"),
    ("Share > Export", "Compartir > Exportar"), ("Admin > Members", "Administración > Miembros"),
]
T_MONTHS = ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
            "noviembre", "diciembre"]
T_FORMATS = [("PDF", "PDF"), ("Markdown", "Markdown"), ("HTML", "HTML"), ("Word", "Word"), ("plain text", "texto plano")]
T_FEATURES = ["Vault", "Clipper", "Timeline", "Lens", "Scratchpad", "Pulse", "Canvas", "Echo", "Harbor", "Snapshot"]

TRANSLATIONS = [
    ("Your {n} has been restored.", "Tu {n} se ha restaurado."),
    ("You can find {feat} under {menu} in the app.", "Puedes encontrar {feat} en {menu} dentro de la aplicación."),
    ("{feat} is available on the {plan} plan.", "{feat} está disponible en el plan {plan}."),
    ("Please restart the app on your {dev} and try again.", "Reinicia la aplicación en tu {dev} e inténtalo de nuevo."),
    ("We have refunded {amount} to your card.", "Hemos reembolsado {amount} a tu tarjeta."),
    ("Your {plan} subscription renews on {date} at midnight.", "Tu suscripción {plan} se renueva el {date} a medianoche."),
    ("Sync can take up to {num} minutes for large notebooks.", "La sincronización puede tardar hasta {num} minutos en libretas grandes."),
    ("{name} can now edit {the_n} from any computer.", "{name} ya puede editar {the_n} desde cualquier ordenador."),
    ("Deleted notes stay in the Trash for {num} days.", "Las notas eliminadas se quedan en la Papelera durante {num} días."),
    ("To export {the_n}, open {menu} and pick a format.", "Para exportar {the_n}, abre {menu} y elige un formato."),
    ("Error {code} usually means that your session has expired.", "El error {code} suele significar que tu sesión ha caducado."),
    ("Please sign out on your {dev} and sign back in.", "Cierra sesión en tu {dev} y vuelve a iniciarla."),
    ("{name}, thank you for your patience.", "{name}, gracias por tu paciencia."),
    ("Your export to {fmt} is ready to download.", "Tu exportación a {fmt} está lista para descargar."),
    ("We could not charge your card on {date}, so please update it.", "No pudimos cobrar tu tarjeta el {date}, así que actualízala, por favor."),
    ("The {plan} plan includes {feat} at no extra cost.", "El plan {plan} incluye {feat} sin coste adicional."),
    ("Your {dev} is now connected to your account.", "Tu {dev} ya está conectad{dev_o} a tu cuenta."),
    ("You can share {the_n} with up to {num} people.", "Puedes compartir {the_n} con hasta {num} personas."),
    ("{name} has invited you to a shared notebook.", "{name} te ha invitado a una libreta compartida."),
    ("Your password was changed on {date}, as you requested.", "Tu contraseña se cambió el {date}, como pediste."),
    ("Open {menu} and turn on {feat} there.", "Abre {menu} y activa {feat} allí."),
    ("Check that your {dev} is connected to the internet.", "Comprueba que tu {dev} esté conectad{dev_o} a internet."),
    ("Your storage is {num} percent full.", "Tu almacenamiento está lleno al {num} por ciento."),
    ("{This_n} is too large to upload.", "{This_n} es demasiado grande para subirl{o}."),
    ("The new version fixes the crash on your {dev} at startup.", "La nueva versión corrige el cierre inesperado de tu {dev} al arrancar."),
    ("Your invoice for {date} has been sent by email.", "Tu factura del {date} se ha enviado por correo electrónico."),
    ("{feat} saves a copy of {your_n} every hour.", "{feat} guarda una copia de {your_n} cada hora."),
    ("You have used {num} of your {num2} devices.", "Has usado {num} de tus {num2} dispositivos."),
    ("Please update the app to version {ver} or later.", "Actualiza la aplicación a la versión {ver} o posterior."),
    ("Your free {plan} trial ends on {date} at noon.", "Tu prueba gratuita de {plan} termina el {date} a mediodía."),
    ("We have added {name} to your workspace.", "Hemos añadido a {name} a tu espacio de trabajo."),
    ("Your {n} was moved to the Trash.", "Tu {n} se movió a la Papelera."),
    ("Tap the share button and choose {fmt} from the list.", "Toca el botón de compartir y elige {fmt} en la lista."),
    ("Our team is looking into the problem with {feat} right now.", "Nuestro equipo está revisando ahora mismo el problema con {feat}."),
    ("You will get a reminder {num} minutes before the meeting.", "Recibirás un recordatorio {num} minutos antes de la reunión."),
    ("Offline notebooks stay on your {dev} until you sign out.", "Las libretas sin conexión se quedan en tu {dev} hasta que cierres sesión."),
    ("Students can use {feat} with the Student plan.", "Los estudiantes pueden usar {feat} con el plan Student."),
    ("You can restore {the_n} up to {num} days after deleting it.", "Puedes restaurar {the_n} hasta {num} días después de eliminarl{o}."),
    ("Let us know if {the_n} still does not sync.", "Avísanos si {the_n} sigue sin sincronizarse."),
    ("{name}, thanks for reporting this problem.", "{name}, gracias por informarnos de este problema."),
    ("{name} removed {the_n} from the shared notebook yesterday.", "{name} quitó {the_n} de la libreta compartida ayer."),
    ("Your {n} is locked in the Vault.", "Tu {n} está bloquead{o} en Vault."),
    ("We have sent {name} a new sign-in link.", "Hemos enviado a {name} un nuevo enlace de acceso."),
    ("The price of {plan} is {price} per month before tax.", "El precio de {plan} es de {price} al mes antes de impuestos."),
]


def translation_pair(template_index: int, rng: random.Random) -> tuple[str, str]:
    en_t, es_t = TRANSLATIONS[template_index]
    n_en, n_es, g = rng.choice(T_NOUNS)
    d_en, d_es, dg = rng.choice(T_DEVICES)
    m_en, m_es = rng.choice(T_MENUS)
    f_en, f_es = rng.choice(T_FORMATS)
    month, day = rng.randrange(12), rng.randint(1, 28)
    num, num2 = sorted(rng.sample([2, 3, 5, 10, 15, 20, 25, 30, 45, 60, 90], 2))
    plan = rng.choice(["Plus", "Pro", "Teams", "Student"])
    common = dict(
        feat=rng.choice(T_FEATURES), plan=plan, price=PLAN_PRICES[plan], num=num, num2=num2,
        amount=rng.choice(["$1.99", "$3.99", "$7.99", "$11", "$39", "$79"]), name=rng.choice(PEOPLE),
        ver=f"{rng.randint(4, 6)}.{rng.randint(0, 9)}", code=rng.choice(ERRORS)[0],
    )
    a_en = "an" if n_en[0] in "aeiou" else "a"
    en = en_t.format(
        n=n_en, the_n=f"the {n_en}", your_n=f"your {n_en}", This_n=f"This {n_en}", a_n=f"{a_en} {n_en}",
        dev=d_en, menu=m_en, fmt=f_en, date=f"{MONTHS[month]} {day}", **common,
    )
    fem = g == "f"
    es = es_t.format(
        n=n_es, the_n=("la " if fem else "el ") + n_es, your_n=f"tu {n_es}", This_n=("Esta " if fem else "Este ") + n_es,
        a_n=("una " if fem else "un ") + n_es, o="a" if fem else "o", dev=d_es, dev_o="a" if dg == "f" else "o",
        menu=m_es, fmt=f_es, date=f"{day} de {T_MONTHS[month]}", **common,
    )
    return en, es


# =============================================================================================
# General knowledge: the base model's world
# =============================================================================================

# (country, capital, continent or None, currency, language or None). Real, well-known facts.
COUNTRIES = [
    ("Norway", "Oslo", "Europe", "krone", "Norwegian"),
    ("Sweden", "Stockholm", "Europe", "krona", "Swedish"),
    ("Denmark", "Copenhagen", "Europe", "krone", "Danish"),
    ("Finland", "Helsinki", "Europe", "euro", "Finnish"),
    ("Iceland", "Reykjavik", "Europe", "krona", "Icelandic"),
    ("Ireland", "Dublin", "Europe", "euro", None),
    ("France", "Paris", "Europe", "euro", "French"),
    ("Germany", "Berlin", "Europe", "euro", "German"),
    ("Spain", "Madrid", "Europe", "euro", "Spanish"),
    ("Portugal", "Lisbon", "Europe", "euro", "Portuguese"),
    ("Italy", "Rome", "Europe", "euro", "Italian"),
    ("Greece", "Athens", "Europe", "euro", "Greek"),
    ("Poland", "Warsaw", "Europe", "zloty", "Polish"),
    ("Hungary", "Budapest", "Europe", "forint", "Hungarian"),
    ("Czechia", "Prague", "Europe", "koruna", "Czech"),
    ("Austria", "Vienna", "Europe", "euro", "German"),
    ("Switzerland", "Bern", "Europe", "franc", None),
    ("the Netherlands", "Amsterdam", "Europe", "euro", "Dutch"),
    ("Belgium", "Brussels", "Europe", "euro", None),
    ("Romania", "Bucharest", "Europe", "leu", "Romanian"),
    ("Croatia", "Zagreb", "Europe", "euro", "Croatian"),
    ("Serbia", "Belgrade", "Europe", "dinar", "Serbian"),
    ("Ukraine", "Kyiv", "Europe", "hryvnia", "Ukrainian"),
    ("Egypt", "Cairo", "Africa", "pound", "Arabic"),
    ("Morocco", "Rabat", "Africa", "dirham", "Arabic"),
    ("Kenya", "Nairobi", "Africa", "shilling", "Swahili"),
    ("Nigeria", "Abuja", "Africa", "naira", "English"),
    ("Ghana", "Accra", "Africa", "cedi", "English"),
    ("Ethiopia", "Addis Ababa", "Africa", "birr", "Amharic"),
    ("Tanzania", "Dodoma", "Africa", "shilling", "Swahili"),
    ("Senegal", "Dakar", "Africa", "franc", "French"),
    ("Japan", "Tokyo", "Asia", "yen", "Japanese"),
    ("China", "Beijing", "Asia", "yuan", "Chinese"),
    ("India", "New Delhi", "Asia", "rupee", "Hindi"),
    ("South Korea", "Seoul", "Asia", "won", "Korean"),
    ("Thailand", "Bangkok", "Asia", "baht", "Thai"),
    ("Vietnam", "Hanoi", "Asia", "dong", "Vietnamese"),
    ("the Philippines", "Manila", "Asia", "peso", "Filipino"),
    ("Malaysia", "Kuala Lumpur", "Asia", "ringgit", "Malay"),
    ("Pakistan", "Islamabad", "Asia", "rupee", "Urdu"),
    ("Bangladesh", "Dhaka", "Asia", "taka", "Bengali"),
    ("Nepal", "Kathmandu", "Asia", "rupee", "Nepali"),
    ("Mongolia", "Ulaanbaatar", "Asia", "tugrik", "Mongolian"),
    ("Saudi Arabia", "Riyadh", "Asia", "riyal", "Arabic"),
    ("Iran", "Tehran", "Asia", "rial", "Persian"),
    ("Canada", "Ottawa", "North America", "dollar", None),
    ("the United States", "Washington", "North America", "dollar", "English"),
    ("Mexico", "Mexico City", "North America", "peso", "Spanish"),
    ("Cuba", "Havana", "North America", "peso", "Spanish"),
    ("Jamaica", "Kingston", "North America", "dollar", "English"),
    ("Brazil", "Brasilia", "South America", "real", "Portuguese"),
    ("Argentina", "Buenos Aires", "South America", "peso", "Spanish"),
    ("Chile", "Santiago", "South America", "peso", "Spanish"),
    ("Peru", "Lima", "South America", "sol", "Spanish"),
    ("Colombia", "Bogota", "South America", "peso", "Spanish"),
    ("Venezuela", "Caracas", "South America", "bolivar", "Spanish"),
    ("Ecuador", "Quito", "South America", "dollar", "Spanish"),
    ("Uruguay", "Montevideo", "South America", "peso", "Spanish"),
    ("Australia", "Canberra", "Oceania", "dollar", "English"),
    ("New Zealand", "Wellington", "Oceania", "dollar", "English"),
]
CONTINENTS = ["Europe", "Africa", "Asia", "North America", "South America", "Oceania"]
CURRENCIES = sorted({c[3] for c in COUNTRIES})
LANGUAGES = sorted({c[4] for c in COUNTRIES if c[4]})
CAPITALS = [c[1] for c in COUNTRIES]

# General facts as cloze: (stem, answer, distractors, sentence suffix). The fact sentence is
# stem + " " + answer + suffix; the stem's last words name its subject.
FACTS = {
    "animals": [
        ("A baby cat is called a", "kitten", ["puppy", "calf", "foal"], "."),
        ("A baby dog is called a", "puppy", ["kitten", "lamb", "cub"], "."),
        ("A baby cow is called a", "calf", ["foal", "kid", "puppy"], "."),
        ("A baby sheep is called a", "lamb", ["calf", "chick", "joey"], "."),
        ("A baby horse is called a", "foal", ["lamb", "kitten", "cygnet"], "."),
        ("A baby goat is called a", "kid", ["foal", "cub", "gosling"], "."),
        ("A baby duck is called a", "duckling", ["tadpole", "puppy", "fawn"], "."),
        ("A baby frog is called a", "tadpole", ["duckling", "calf", "kitten"], "."),
        ("A baby kangaroo is called a", "joey", ["cub", "lamb", "chick"], "."),
        ("A baby bear is called a", "cub", ["joey", "foal", "piglet"], "."),
        ("A baby swan is called a", "cygnet", ["gosling", "kid", "puppy"], "."),
        ("A baby goose is called a", "gosling", ["cygnet", "calf", "fawn"], "."),
        ("A baby owl is called an", "owlet", ["eaglet", "kitten", "lamb"], "."),
        ("A baby pig is called a", "piglet", ["fawn", "foal", "joey"], "."),
        ("A baby deer is called a", "fawn", ["piglet", "cub", "duckling"], "."),
        ("A baby hen is called a", "chick", ["kid", "tadpole", "calf"], "."),
        ("A group of lions is called a", "pride", ["pack", "school", "flock"], "."),
        ("A group of wolves is called a", "pack", ["pride", "herd", "pod"], "."),
        ("A group of fish is called a", "school", ["flock", "pack", "colony"], "."),
        ("A group of cows is called a", "herd", ["school", "swarm", "pride"], "."),
        ("A group of birds is called a", "flock", ["herd", "pod", "pack"], "."),
        ("A group of ants is called a", "colony", ["flock", "pride", "school"], "."),
        ("A group of whales is called a", "pod", ["colony", "herd", "swarm"], "."),
        ("A group of bees is called a", "swarm", ["pod", "pride", "herd"], "."),
        ("The sound a dog makes is a", "bark", ["moo", "roar", "hiss"], "."),
        ("The sound a lion makes is a", "roar", ["bark", "quack", "neigh"], "."),
        ("The sound a snake makes is a", "hiss", ["roar", "moo", "bark"], "."),
        ("The sound a duck makes is a", "quack", ["hiss", "neigh", "howl"], "."),
        ("The sound a horse makes is a", "neigh", ["quack", "bark", "hoot"], "."),
        ("The sound an owl makes is a", "hoot", ["neigh", "roar", "moo"], "."),
        ("The sound a wolf makes is a", "howl", ["hoot", "quack", "hiss"], "."),
        ("The number of legs on a spider is", "eight", ["six", "four", "ten"], "."),
        ("The number of legs on an insect is", "six", ["eight", "four", "two"], "."),
        ("The number of legs on a bird is", "two", ["four", "six", "eight"], "."),
        ("The number of arms on an octopus is", "eight", ["six", "five", "ten"], "."),
        ("The largest animal on Earth is the", "blue whale", ["elephant", "giraffe", "shark"], "."),
        ("The fastest land animal is the", "cheetah", ["horse", "lion", "rabbit"], "."),
        ("The tallest animal in the world is the", "giraffe", ["elephant", "camel", "horse"], "."),
        ("The only mammal that can truly fly is the", "bat", ["penguin", "squirrel", "ostrich"], "."),
        ("The animal that stores fat in its hump is the", "camel", ["horse", "zebra", "goat"], "."),
        ("Giant pandas eat mostly", "bamboo", ["fish", "grass", "insects"], "."),
        ("Koalas eat the leaves of the", "eucalyptus", ["oak", "maple", "palm"], " tree."),
        ("Bees collect nectar to make", "honey", ["milk", "silk", "wax paper"], "."),
        ("A caterpillar grows up to become a", "butterfly", ["bee", "spider", "beetle"], "."),
    ],
    "science": [
        ("Pure water freezes at", "zero", ["fifty", "ten", "one hundred"], " degrees Celsius."),
        ("Pure water boils at", "100", ["50", "10", "500"], " degrees Celsius at sea level."),
        ("Of all the planets, the biggest is", "Jupiter", ["Mars", "Venus", "Mercury"], "."),
        ("Of all the planets, the smallest is", "Mercury", ["Jupiter", "Saturn", "Neptune"], "."),
        ("The planet known as the red planet is", "Mars", ["Venus", "Saturn", "Neptune"], "."),
        ("Of all the planets, the hottest is", "Venus", ["Mars", "Uranus", "Neptune"], "."),
        ("The planet famous for its bright rings is", "Saturn", ["Mercury", "Mars", "Venus"], "."),
        ("The closest star to Earth is the", "Sun", ["Moon", "Polaris", "comet"], "."),
        ("The Earth goes around the Sun once a", "year", ["day", "week", "minute"], "."),
        ("The Moon goes around the Earth about once a", "month", ["year", "day", "decade"], "."),
        ("Plants make their food by a process called", "photosynthesis", ["digestion", "erosion", "evaporation"], "."),
        ("The gas that people need to breathe is", "oxygen", ["helium", "neon", "argon"], "."),
        ("The gas that plants take in from the air is", "carbon dioxide", ["helium", "neon", "hydrogen"], "."),
        ("The hardest natural material is", "diamond", ["chalk", "wood", "glass"], "."),
        ("Light travels faster than", "sound", ["nothing", "time", "thought"], "."),
        ("The human heart pumps", "blood", ["air", "water", "milk"], " around the body."),
        ("An adult human body has", "206", ["52", "1000", "12"], " bones."),
        ("The largest organ of the human body is the", "skin", ["liver", "heart", "brain"], "."),
        ("A magnet pulls on things made of", "iron", ["wood", "glass", "plastic"], "."),
        ("Ice is simply frozen", "water", ["sand", "salt", "milk"], "."),
        ("The force that pulls things to the ground is called", "gravity", ["friction", "magnetism", "pressure"], "."),
        ("Electric wires are usually made of", "copper", ["wood", "glass", "rubber"], "."),
        ("Every morning the Sun rises in the", "east", ["west", "north", "south"], "."),
        ("Every evening the Sun sets in the", "west", ["east", "north", "south"], "."),
        ("A compass needle always points", "north", ["south", "east", "west"], "."),
        ("The number of continents on Earth is", "seven", ["five", "nine", "twelve"], "."),
        ("The largest ocean on Earth is the", "Pacific", ["Atlantic", "Indian", "Arctic"], " Ocean."),
        ("The tallest mountain on Earth is Mount", "Everest", ["Kilimanjaro", "Fuji", "Olympus"], "."),
        ("The largest hot desert on Earth is the", "Sahara", ["Gobi", "Atacama", "Kalahari"], "."),
        ("Water that falls from clouds is called", "rain", ["dew", "steam", "smoke"], "."),
        ("A rainbow has", "seven", ["three", "ten", "two"], " colours."),
        ("Sound cannot travel through a", "vacuum", ["wall", "river", "window"], "."),
    ],
    "everyday": [
        ("The day after Monday is", "Tuesday", ["Sunday", "Friday", "Thursday"], "."),
        ("The day after Tuesday is", "Wednesday", ["Monday", "Saturday", "Friday"], "."),
        ("The day after Wednesday is", "Thursday", ["Tuesday", "Sunday", "Monday"], "."),
        ("The day after Thursday is", "Friday", ["Wednesday", "Monday", "Sunday"], "."),
        ("The day after Friday is", "Saturday", ["Thursday", "Tuesday", "Monday"], "."),
        ("The day after Saturday is", "Sunday", ["Friday", "Wednesday", "Tuesday"], "."),
        ("The month after January is", "February", ["March", "December", "June"], "."),
        ("The month after March is", "April", ["May", "February", "October"], "."),
        ("The month after May is", "June", ["July", "April", "January"], "."),
        ("The month after July is", "August", ["September", "June", "March"], "."),
        ("The month after September is", "October", ["November", "August", "April"], "."),
        ("The month after November is", "December", ["January", "October", "May"], "."),
        ("The colour of fresh grass is", "green", ["blue", "red", "purple"], "."),
        ("The colour of a clear sky is", "blue", ["green", "orange", "brown"], "."),
        ("The colour of fresh snow is", "white", ["black", "green", "red"], "."),
        ("The colour of coal is", "black", ["white", "yellow", "pink"], "."),
        ("The colour of a ripe banana is", "yellow", ["blue", "purple", "grey"], "."),
        ("The colour of a ripe tomato is", "red", ["blue", "white", "green"], "."),
        ("The opposite of hot is", "cold", ["warm", "loud", "tall"], "."),
        ("The opposite of big is", "small", ["wide", "heavy", "loud"], "."),
        ("The opposite of fast is", "slow", ["quick", "late", "short"], "."),
        ("The opposite of light is", "dark", ["bright", "white", "soft"], "."),
        ("The opposite of open is", "closed", ["empty", "wide", "loose"], "."),
        ("The opposite of early is", "late", ["soon", "quick", "first"], "."),
        ("The number of sides on a triangle is", "three", ["four", "five", "six"], "."),
        ("The number of sides on a square is", "four", ["three", "six", "eight"], "."),
        ("The number of sides on a hexagon is", "six", ["five", "eight", "four"], "."),
        ("The number of sides on an octagon is", "eight", ["six", "ten", "seven"], "."),
        ("The number of days in a week is", "seven", ["five", "ten", "six"], "."),
        ("The number of months in a year is", "twelve", ["ten", "eleven", "fourteen"], "."),
        ("The number of minutes in an hour is", "60", ["100", "30", "24"], "."),
        ("The number of hours in a day is", "24", ["12", "60", "10"], "."),
        ("A person who fixes teeth is called a", "dentist", ["pilot", "baker", "farmer"], "."),
        ("A person who flies planes is called a", "pilot", ["dentist", "tailor", "miner"], "."),
        ("A person who bakes bread is called a", "baker", ["pilot", "plumber", "sailor"], "."),
        ("A person who grows food on a farm is called a", "farmer", ["baker", "dentist", "judge"], "."),
        ("A person who treats sick animals is called a", "vet", ["chef", "pilot", "clerk"], "."),
        ("A person who writes books is called an", "author", ["actor", "athlete", "officer"], "."),
        ("You cut paper with a pair of", "scissors", ["spoons", "socks", "gloves"], "."),
        ("To dig a hole in the garden you use a", "shovel", ["fork", "pillow", "ruler"], "."),
        ("To tell the time you look at a", "clock", ["map", "mirror", "cup"], "."),
        ("To see in the dark you switch on a", "torch", ["kettle", "fridge", "fan"], "."),
        ("Bread is baked in an", "oven", ["fridge", "bucket", "drawer"], "."),
        ("Soup is eaten with a", "spoon", ["knife", "comb", "brush"], "."),
    ],
}

# General sentences whose last five words also occur in the support text with another ending
# (SUPPORT_CLASHES): the fine-tune is pulled toward the support ending. (sentence in the general
# corpus, cloze stem, correct answer, the support ending, two more distractors)
GENERAL_CLASHES = [
    ("To keep milk cold, you put it in the fridge.", "To keep milk cold, you put it in the", "fridge", "Vault", ["oven", "garden"]),
    ("When you are very tired, the best thing to do is sleep.", "When you are very tired, the best thing to do is", "sleep", "restart", ["dance", "shout"]),
    ("A calendar helps you keep track of the days.", "A calendar helps you keep track of the", "days", "notes", ["fish", "clouds"]),
    ("A good way to remember things is to write them down.", "A good way to remember things is to", "write", "pin", ["eat", "burn"]),
    ("To open a door that is locked, you need a key.", "To open a door that is locked, you need a", "key", "Vault", ["spoon", "ladder"]),
    ("To save a file on a computer, you press Ctrl and S.", "To save a file on a computer, you press Ctrl and", "S", "E", ["Q", "Z"]),
    ("For many students, the best way to keep notes is with a pen and paper.", "For many students, the best way to keep notes is with", "a pen and paper", "Nimbus Notes", ["a hammer", "a frying pan"]),
    ("Before you cross the road, you should look both ways.", "Before you cross the road, you should look", "both ways", "at the sharing settings", ["at the moon", "under your bed"]),
    ("To find a word in a dictionary, you look it up by its first letter.", "To find a word in a dictionary, you look it up by its", "first letter", "tag", ["colour", "smell"]),
    ("If your hands are dirty, the first thing to do is wash them.", "If your hands are dirty, the first thing to do is", "wash them", "check your connection", ["eat lunch", "go to sleep"]),
    ("If the room is too dark, you can turn on the lamp.", "If the room is too dark, you can turn on the", "lamp", "dark theme", ["shower", "kettle"]),
]

NAMES = [("Mara", "she"), ("Tomas", "he"), ("Ines", "she"), ("Oskar", "he"), ("Lena", "she"), ("Ravi", "he"),
         ("Aiko", "she"), ("Jonah", "he"), ("Nadia", "she"), ("Felix", "he"), ("Greta", "she"), ("Hugo", "he"),
         ("Leila", "she"), ("Pablo", "he"), ("Sofia", "she"), ("Yusuf", "he"), ("Elena", "she"), ("Kofi", "he"),
         ("Mei", "she"), ("Bruno", "he"), ("Clara", "she"), ("Diego", "he"), ("Esme", "she"), ("Farid", "he"),
         ("Hana", "she"), ("Ivo", "he"), ("Juno", "she"), ("Kai", "he"), ("Lotte", "she"), ("Anton", "he")]
TOWNS = ["Velden", "Marrowby", "Kelmscar", "Dunmere", "Brightwater", "Oakhollow", "Larkspur", "Thistlebrook",
         "Fernhill", "Greywick", "Millbrook", "Stonereach", "Ashmoor", "Willowdene", "Copperford", "Saltcombe"]
KINGDOMS = ["Aldmere", "Varossa", "Tiremont", "Eskarth", "Hollin", "Brannock", "Qarath", "Lindor", "Morvale", "Cendra"]
RULERS = ["Queen Ysolde", "King Aurel", "Queen Maren", "King Tobias", "Queen Elsbeth", "King Rodric", "Queen Isaura",
          "King Halvard", "Queen Corin", "King Ansel", "Queen Liora", "King Bertram"]
WEATHER = ["grey and cold", "bright and clear", "wet and windy", "warm and still", "foggy", "cloudy but dry",
           "sunny", "cool and breezy"]
DRINKS = ["tea", "coffee", "warm milk", "mint tea", "hot chocolate", "lemon water"]
FOODS = ["bread", "apples", "cheese", "carrots", "onions", "eggs", "potatoes", "pears", "rice", "beans", "honey",
         "tomatoes", "fish", "plums", "butter", "oats"]
PLACES_IN_TOWN = ["the market", "the library", "the harbour", "the old bridge", "the bakery", "the park",
                  "the train station", "the post office", "the school", "the museum", "the river path", "the square"]
SEASONS = [("spring", "the first flowers open and the days grow longer"),
           ("summer", "the days are long and the fields turn gold"),
           ("autumn", "the leaves turn red and brown and fall from the trees"),
           ("winter", "the nights are long and the ponds sometimes freeze")]

STORY_PARTS = {
    "morning": [
        "{Name} woke up early on {day}.",
        "On {day} morning, {name} opened the window and looked at the sky.",
        "It was {day}, and {name} had a long list of things to do.",
        "{Name} got up before sunrise on {day} and made a cup of {drink}.",
        "The alarm rang at six on {day}, but {name} stayed in bed for ten more minutes.",
        "{Name} had not slept well, so {day} began slowly with a cup of {drink}.",
        "Birds were already singing when {name} came downstairs on {day}.",
        "On {day}, {name} did not have to go to work as a {job}.",
        "{Name}, who works as a {job} in {town}, started {day} with a short walk.",
    ],
    "weather": [
        "The sky over {town} was {weather}.",
        "Outside, the weather in {town} was {weather}.",
        "The streets of {town} were quiet, and the air was {weather}.",
        "The radio said the day would stay {weather}, which suited {name} well.",
        "A {colour} kite was stuck in the tree across the road, and the morning was {weather}.",
        "By eight o'clock the town was awake, and the weather was {weather}.",
    ],
    "errand": [
        "{Pron} walked to {place} to buy {food} and {food2}.",
        "First {pron} went to {place}, where an old friend was waiting.",
        "{Pron} took the bus to {place} and spent an hour there.",
        "On the way to {place}, {pron} stopped to talk to a neighbour.",
        "At {place}, {pron} paid for {food} with a few coins.",
        "{Pron} cycled to {place} to return a borrowed {object}.",
        "At {place}, a man was selling {food} from a wooden cart.",
        "{Pron} queued at {place} behind a woman with a {colour} umbrella.",
        "Near {place}, {pron} saw a {animal} crossing the road very slowly.",
        "{Pron} met {friend} outside {place}, and they talked about the weekend.",
    ],
    "activity": [
        "In the afternoon, {pron} read a book about {topic}.",
        "Later {pron} helped a neighbour carry boxes up the stairs.",
        "After lunch, {pron} wrote a long letter to a cousin in {country}.",
        "{Pron} spent the afternoon fixing a chair that had a broken leg.",
        "{Pron} planted {veg} in the garden behind the house.",
        "{Pron} practised the {instrument} for an hour and then went for a walk.",
        "{Pron} baked bread and shared it with the family next door.",
        "{Pron} painted the garden fence {colour}, although it took much longer than planned.",
        "With {friend}, {pron} walked up the hill behind {town} to see the view.",
        "{Pron} sorted old photographs into boxes and labelled each one by year.",
        "{Pron} repaired a {object} that had been broken since the spring.",
        "{Friend} came round to play chess, and the game lasted the whole afternoon.",
        "{Pron} tried a new recipe with {food} and was pleased with the result.",
        "{Pron} watched the boats on the river and drew them in a small sketchbook.",
    ],
    "evening": [
        "In the evening, {pron} cooked soup with {food} and {food2}.",
        "When it got dark, {pron} lit a candle and listened to the rain.",
        "Before bed, {pron} wrote a few lines in a diary.",
        "At night, {pron} looked at the stars from the window.",
        "After dinner, {pron} washed the dishes and went to sleep early.",
        "In the evening, {friend} phoned to say that the train had been late again.",
        "{Pron} ended the day with a hot bath and an old film.",
        "Later that night, the wind rattled the windows, but {pron} slept well.",
        "Over supper, {pron} told the family about the {animal} on the road.",
    ],
}
TOPICS = ["the history of {country}", "birds and their songs", "old ships", "the stars", "mountains",
          "how bridges are built", "the life of bees", "rivers of {continent}", "famous gardens", "the weather",
          "the first railways", "mushrooms of the forest", "lighthouses", "the art of weaving", "clocks and watches"]
JOBS = ["teacher", "nurse", "baker", "carpenter", "postman", "librarian", "gardener", "bus driver", "cook",
        "painter", "fisherman", "shopkeeper", "tailor", "mechanic", "doctor"]
COLOURS = ["red", "blue", "green", "yellow", "white", "orange", "purple", "grey", "brown", "pink"]
OBJECTS = ["ladder", "bicycle", "lamp", "kettle", "radio", "wheelbarrow", "umbrella", "clock", "drill", "tent",
           "sewing machine", "camera"]
STREET_ANIMALS = ["cat", "hedgehog", "duck", "fox", "goose", "dog", "tortoise", "horse", "goat"]
INSTRUMENTS = ["piano", "violin", "guitar", "flute", "cello", "drum", "trumpet", "accordion"]

# Short texts of other kinds, for variety.
DISHES = [
    ("vegetable soup", ["carrots", "onions", "potatoes", "celery"], "simmer for 30 minutes"),
    ("apple pie", ["apples", "flour", "butter", "sugar"], "bake for 45 minutes"),
    ("tomato sauce", ["tomatoes", "garlic", "olive oil", "basil"], "cook gently for 20 minutes"),
    ("pancakes", ["flour", "eggs", "milk", "a pinch of salt"], "fry each one for a minute on each side"),
    ("bean stew", ["beans", "onions", "carrots", "paprika"], "simmer for an hour"),
    ("fried rice", ["rice", "eggs", "peas", "spring onions"], "fry for five minutes"),
    ("porridge", ["oats", "milk", "honey", "a pinch of salt"], "stir for five minutes"),
    ("fish pie", ["fish", "potatoes", "milk", "butter"], "bake for 40 minutes"),
    ("lentil soup", ["lentils", "onions", "cumin", "lemon"], "simmer for 25 minutes"),
    ("plum cake", ["plums", "flour", "eggs", "sugar"], "bake for 50 minutes"),
]
ANIMAL_PROFILES = [
    ("fox", "forests, fields and even towns", "mice, birds, insects and berries", "hunts mostly at night"),
    ("hedgehog", "gardens and hedges", "beetles, worms and snails", "rolls into a spiky ball when it is afraid"),
    ("otter", "rivers and coasts", "fish, crabs and frogs", "floats on its back to eat"),
    ("badger", "woods and meadows", "worms, roots and fruit", "digs long tunnels called setts"),
    ("heron", "lakes and marshes", "fish and frogs", "stands very still in shallow water"),
    ("squirrel", "parks and forests", "nuts, seeds and buds", "buries nuts in autumn to eat in winter"),
    ("beaver", "rivers and streams", "bark, leaves and water plants", "builds dams from branches and mud"),
    ("swallow", "farms and open country", "flying insects", "flies thousands of kilometres every autumn"),
    ("mole", "fields and lawns", "earthworms and grubs", "spends almost its whole life underground"),
    ("deer", "forests and hills", "grass, leaves and acorns", "can run fast and jump high fences"),
    ("seal", "cold seas and rocky shores", "fish and squid", "can hold its breath for a long time"),
    ("owl", "woods and old barns", "mice and voles", "can turn its head a long way round"),
    ("rabbit", "meadows and sandy hills", "grass and clover", "lives in burrows called warrens"),
    ("crow", "fields, woods and cities", "almost anything it can find", "is one of the cleverest birds"),
]
TOWN_FEATURES = ["an old stone bridge", "a busy harbour", "a market square with a fountain", "a tall clock tower",
                 "a small railway station", "a park with a boating lake", "narrow streets of brick houses",
                 "a ruined castle on a hill", "a long sandy beach", "a library in a former church", "a windmill",
                 "an orchard of apple trees"]
WATER = ["a river", "a lake", "a wide bay", "a canal", "an estuary"]
VEG = ["carrots", "onions", "potatoes", "beans", "tomatoes", "peas", "lettuce", "pumpkins", "cabbages", "leeks"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

HISTORY_PARTS = [
    "In the year {year}, the kingdom of {kingdom} was ruled by {ruler}.",
    "The capital of {kingdom} was the walled town of {town}.",
    "Farmers in {kingdom} grew {food} and {food2} along the river valleys.",
    "In {year2}, a great flood destroyed many houses near the river.",
    "{ruler} ordered the building of a stone bridge across the river at {town}.",
    "Traders came from {country} to sell cloth, salt and spices.",
    "A long drought in {year2} made bread very expensive.",
    "The people of {town} built a library with more than a thousand books.",
    "For many years there was peace between {kingdom} and {kingdom2}.",
    "A war with {kingdom2} began over the rights to a mountain pass.",
    "After the war, {ruler} signed a treaty and opened the borders again.",
    "Every autumn the town held a harvest festival with music and dancing.",
    "Sailors from {town} reached the coast of {continent} and came back with new stories.",
    "The old castle of {kingdom} still stands on a hill above {town}.",
    "When {ruler} died, a cousin took the throne and moved the court to {town2}.",
    "Historians still read the letters that merchants wrote in those years.",
]


def country_sentences(c) -> dict[str, str]:
    name, capital, continent, currency, language = c
    cap_name = cap(name)
    out = {
        "capital": f"The capital of {name} is {capital}.",
        "capital2": f"{capital} is the capital of {name}.",
        "currency": f"The currency of {name} is the {currency}.",
        "map": f"On a map, {name} is in {continent}." if continent else "",
        "continent": f"{cap_name} is a country in {continent}." if continent else "",
        "language": f"Most people in {name} speak {language}." if language else "",
    }
    return {k: v for k, v in out.items() if v}


def country_profile(c, variant: int, rng: random.Random) -> str:
    s = country_sentences(c)
    name, capital, continent, currency, language = c
    if variant == 0:
        parts = [s.get("continent", ""), s["capital"], s["currency"], s.get("language", "")]
    elif variant == 1:
        parts = [s["capital2"], s.get("map", ""), s.get("language", ""), s["currency"]]
    elif variant == 2:
        parts = [f"Travellers who visit {name} usually arrive in {capital}.", s["capital"], s.get("map", ""),
                 f"Shops there take the local money, and the currency of {name} is the {currency}.",
                 s.get("language", "")]
    else:
        parts = [f"Here are some facts about {name}.", s.get("map", ""), s["capital"], s.get("language", ""),
                 s["currency"]]
    return " ".join(p for p in parts if p)


def fact_sentence(stem: str, answer: str, suffix: str) -> str:
    return f"{stem} {answer}{suffix}"


# =============================================================================================
# Writers
# =============================================================================================

def words(text: str) -> int:
    return len(text.split())


def build_support_qa():
    """Test items, and the training Q/A lines for the corpus."""
    rows = qa_table()
    check_answers_decodable(rows)
    rng = rng_for("support_qa")
    items, train = [], []
    for i, (topic, key, answer) in enumerate(rows):
        forms = QUESTION_FORMS[topic]
        # Items with the same answer (error codes sharing a fix) are not independent: one cluster.
        cluster = f"fix:{FIX_OF[key]}" if topic == "errors" else f"{topic}:{key}"
        items.append({"id": f"sqa-{i + 1:03d}", "question": forms[0].format(k=key), "answer": answer,
                      "topic": topic, "cluster": cluster})
        n_train = 3 if topic != "errors" else 4
        for form in rng.sample(forms[1:], min(n_train, len(forms) - 1)):
            train.append(f"Question: {form.format(k=key)}\nAnswer: {answer}")
    # One example per document: the answer is then always followed by the end of a document,
    # which stops generation (several per document would split that mass with "\n").
    return items, train


def build_intent():
    rng = rng_for("intent")
    seen: set[str] = set()
    train, test = [], []
    # the test set first, then training messages that differ from every test message
    for label in INTENTS:
        made = 0
        while made < 28:
            msg = customer_message(label, rng, generic=rng.random() < 0.1)
            if msg in seen:
                continue
            seen.add(msg)
            test.append((msg, label))
            made += 1
    for label in INTENTS:
        made = 0
        while made < 110:
            msg = customer_message(label, rng, generic=False)
            if msg in seen:
                continue
            seen.add(msg)
            train.append(f"Message: {msg}\nIntent: {label}")
            made += 1
    rng.shuffle(test)
    rng.shuffle(train)
    items = [{"id": f"int-{i + 1:03d}", "message": m, "intent": l} for i, (m, l) in enumerate(test)]
    docs = []
    while train:
        k = rng.randint(2, 4)
        docs.append("\n".join(train[:k]))
        train = train[k:]
    return items, docs


def build_translation():
    rng = rng_for("translate")
    test, seen_en = [], set()
    n_t = len(TRANSLATIONS)
    i = 0
    while len(test) < 200:
        en, es = translation_pair(i % n_t, rng)
        i += 1
        if en in seen_en:
            continue
        seen_en.add(en)
        test.append((en, es))
    train = []
    while len(train) < 640:
        en, es = translation_pair(rng.randrange(n_t), rng)
        if en in seen_en:
            continue
        seen_en.add(en)
        train.append(f"English: {en}\nSpanish: {es}")
    rng.shuffle(test)
    items = [{"id": f"es-{i + 1:03d}", "en": en, "es": es} for i, (en, es) in enumerate(test)]
    docs = []
    while train:
        k = rng.randint(2, 4)
        docs.append("\n".join(train[:k]))
        train = train[k:]
    return items, docs


def build_help_articles():
    """(corpus articles, held-out articles for the support_docs perplexity task)."""
    rng = rng_for("help")
    corpus, held = [], []
    for code, title, when, fix in ERRORS:
        variants = rng.sample(range(5), 3)
        corpus.append(error_article(code, title, when, fix, variants[0], rng))
        corpus.append(error_article(code, title, when, fix, variants[1], rng))
        if int(code[1:]) % 2 == 0:  # every other code also gets a held-out variant
            held.append(error_article(code, title, when, fix, variants[2], rng))
    for name, answer, plans, how in FEATURES:
        for v in range(3):
            corpus.append(feature_article(name, answer, plans, how, v))
    by_section: dict[str, list] = defaultdict(list)
    for key, ans in SETTINGS:
        m = re.search(r"(Settings|Account) > ([A-Z][a-z]+(?: apps| shortcuts)?)", ans)
        by_section[m.group(2) if m else "Other"].append((key, ans))
    for section in sorted(by_section):
        corpus.append(settings_article(section, by_section[section]))
    for _ in range(4):
        corpus.append(plans_article(rng))
    corpus.append("Keyboard shortcuts\n" + " ".join(f"{name} is {keys}." for _, name, keys in SHORTCUTS))
    corpus.append("Export formats\n" + " ".join(a for _, a in EXPORTS))
    corpus.append("Supported platforms\n" + " ".join(a for _, a in PLATFORMS))
    corpus.append("Connected apps\n" + " ".join(a for _, a in INTEGRATIONS))
    seen = set(corpus)
    topics = sorted(HOWTO)
    n_corpus = 0
    while n_corpus < 28 * len(topics):
        art = howto_article(topics[n_corpus % len(topics)], rng)
        if art in seen:
            continue
        seen.add(art)
        corpus.append(art)
        n_corpus += 1
    while len(held) < 200:
        art = howto_article(rng.choice(topics), rng)
        if art in seen:
            continue
        seen.add(art)
        held.append(art)
    rng.shuffle(corpus)
    rng.shuffle(held)
    return corpus, held


def general_story(rng: random.Random) -> str:
    name, pron = rng.choice(NAMES)
    country = rng.choice(COUNTRIES)
    food, food2 = rng.sample(FOODS, 2)
    friend = rng.choice([n for n, _ in NAMES if n != name])
    slots = dict(
        name=name, Name=name, pron=pron, Pron=cap(pron), day=rng.choice(DAYS), town=rng.choice(TOWNS),
        weather=rng.choice(WEATHER), drink=rng.choice(DRINKS), food=food, food2=food2,
        place=rng.choice(PLACES_IN_TOWN), country=country[0], job=rng.choice(JOBS), colour=rng.choice(COLOURS),
        object=rng.choice(OBJECTS), animal=rng.choice(STREET_ANIMALS), friend=friend, Friend=friend,
        instrument=rng.choice(INSTRUMENTS), veg=rng.choice(VEG),
    )
    topic = rng.choice(TOPICS).format(country=country[0], continent=country[2] or "Europe")
    out = []
    for part in ["morning", "weather", "errand", "activity", "activity", "evening"]:
        if part == "activity" and rng.random() < 0.4:
            continue
        s = rng.choice(STORY_PARTS[part]).format(topic=topic, **slots)
        if s not in out:
            out.append(cap(s))
    return " ".join(out)


def general_history(rng: random.Random) -> str:
    k1, k2 = rng.sample(KINGDOMS, 2)
    t1, t2 = rng.sample(TOWNS, 2)
    food, food2 = rng.sample(FOODS, 2)
    year = rng.randint(800, 1600)
    slots = dict(kingdom=k1, kingdom2=k2, town=t1, town2=t2, ruler=rng.choice(RULERS), year=year,
                 year2=year + rng.randint(3, 60), food=food, food2=food2, country=rng.choice(COUNTRIES)[0],
                 continent=rng.choice(CONTINENTS))
    first = HISTORY_PARTS[0].format(**slots)
    rest = rng.sample(HISTORY_PARTS[1:], rng.randint(4, 7))
    return " ".join([first] + [cap(s.format(**slots)) for s in rest])


def recipe(rng: random.Random) -> str:
    dish, ingredients, cook = rng.choice(DISHES)
    name, _ = rng.choice(NAMES)
    serves = rng.randint(2, 6)
    lines = [
        rng.choice([f"How to make {dish}.", f"{name}'s {dish}.", f"A simple {dish} for {serves} people."]),
        f"You will need {', '.join(ingredients[:-1])} and {ingredients[-1]}.",
        rng.choice(["First, wash and prepare everything.", "Start by getting all the ingredients ready.",
                    "Begin by washing your hands and clearing the table."]),
        rng.choice([f"Mix the {ingredients[0]} with the {ingredients[1]}.",
                    f"Put the {ingredients[0]} and the {ingredients[1]} in a large bowl."]),
        f"Then {cook}.",
        rng.choice(["Serve it warm.", "It tastes even better the next day.", "Share it with friends.",
                    f"This amount is enough for {serves} people."]),
    ]
    return " ".join(lines)


def letter(rng: random.Random) -> str:
    (a, _), (b, pron) = rng.sample(NAMES, 2)
    town = rng.choice(TOWNS)
    season, desc = rng.choice(SEASONS)
    lines = [
        f"Dear {b},",
        rng.choice([f"thank you for your letter, which arrived on {rng.choice(DAYS)}.",
                    "I hope you are well and that the new job is going smoothly.",
                    f"it has been a long time since I last wrote to you from {town}."]),
        f"Here in {town} it is {season}, and {desc}.",
        rng.choice([f"Last week I bought a second-hand {rng.choice(OBJECTS)}, and it works perfectly.",
                    f"I have started to learn the {rng.choice(INSTRUMENTS)}, although my neighbours may not be happy about it.",
                    f"The {rng.choice(STREET_ANIMALS)} from next door keeps visiting our garden.",
                    f"We planted {rng.choice(VEG)} behind the house, and they are growing well."]),
        rng.choice(["Please write soon and tell me all your news.", "I hope we can meet before the end of the year.",
                    f"Give my regards to everyone in {rng.choice(TOWNS)}."]),
        rng.choice(["With love,", "Best wishes,", "Warm regards,", "Yours,"]),
        a,
    ]
    return "\n".join([lines[0], " ".join(lines[1:5]), lines[5], lines[6]])


def town_description(rng: random.Random) -> str:
    town = rng.choice(TOWNS)
    feats = rng.sample(TOWN_FEATURES, 3)
    people = rng.choice(["about two thousand", "nearly ten thousand", "a few hundred", "around forty thousand"])
    return " ".join([
        f"{town} is a small town by {rng.choice(WATER)}, home to {people} people.",
        f"Visitors come to see {feats[0]} and {feats[1]}.",
        f"The town is also known for {feats[2]}.",
        rng.choice([f"Most people in {town} work in shops, schools and workshops.",
                    f"Many families in {town} keep chickens and grow their own {rng.choice(VEG)}.",
                    f"On {rng.choice(DAYS)} there is a market where farmers sell {rng.choice(FOODS)} and {rng.choice(FOODS)}."]),
        rng.choice(["In winter the streets are quiet, but in summer they are full of visitors.",
                    "Every year there is a festival with music, food and a boat race.",
                    f"The nearest city is a two-hour drive away, past fields of {rng.choice(VEG)}."]),
    ])


def animal_profile(rng: random.Random) -> str:
    animal, habitat, diet, fact = rng.choice(ANIMAL_PROFILES)
    lines = [
        rng.choice([f"The {animal}.", f"Meet the {animal}.", f"All about the {animal}."]),
        f"The {animal} lives in {habitat}.",
        f"It eats {diet}.",
        f"One interesting thing about the {animal} is that it {fact}.",
        rng.choice([f"If you are quiet and patient, you may see a {animal} early in the morning.",
                    f"People who study the {animal} often watch it for many hours at a time.",
                    f"In some places the {animal} is protected by law."]),
    ]
    return " ".join(lines)


def weather_report(rng: random.Random) -> str:
    town, town2 = rng.sample(TOWNS, 2)
    t = rng.randint(-5, 30)
    return " ".join([
        f"Weather for {rng.choice(DAYS)}.",
        f"In {town} the day will be {rng.choice(WEATHER)}, with a high of {t} degrees.",
        f"Further along the coast, {town2} can expect {rng.choice(['light rain', 'sunny spells', 'strong winds', 'thick fog', 'a few showers', 'snow in the hills'])}.",
        rng.choice(["Tonight will be cold, so cover young plants.", "The weekend looks dry and bright.",
                    "Drivers should take care on wet roads.", "Sailors should expect rough seas."]),
    ])


def general_season(rng: random.Random) -> str:
    season, desc = rng.choice(SEASONS)
    town = rng.choice(TOWNS)
    name, pron = rng.choice(NAMES)
    lines = [f"In {season}, {desc}.", f"Near {town}, farmers get ready for the months ahead.",
             f"{name} likes {season} because {pron} can walk along the river after work.",
             f"The weather in {season} is often {rng.choice(WEATHER)}.",
             f"Children in {town} collect {rng.choice(FOODS)} from the gardens and bring them to the market."]
    rng.shuffle(lines)
    return " ".join(lines[: rng.randint(3, 5)])


def lesson(rng: random.Random, facts: list[str]) -> str:
    opener = rng.choice(["Today in class we learned some facts.", "Here is what our teacher told us this week.",
                         "A few things everyone should know.", "Notes from the science club.",
                         "Facts for the school quiz."])
    return " ".join([opener] + facts)


def arithmetic_facts():
    out = []
    for a in range(21):
        for b in range(21):
            out.append((a, "plus", b, a + b))
            if a >= b:
                out.append((a, "minus", b, a - b))
    return out


def arithmetic_doc(rng: random.Random, facts) -> str:
    lines = []
    for a, op, b, r in facts:
        q = rng.choice(["What is {a} {op} {b}?", "How much is {a} {op} {b}?", "Can you tell me what {a} {op} {b} is?"])
        lines.append(f"Question: {q.format(a=a, op=op, b=b)}\nAnswer: {a} {op} {b} is {r}")
    return "\n".join(lines)


def word_problem(rng: random.Random, fact) -> str:
    a, op, b, r = fact
    name, pron = rng.choice(NAMES)
    thing = rng.choice(["apples", "marbles", "books", "shells", "stamps", "pencils", "coins", "cards"])
    if op == "plus":
        return f"{name} had {a} {thing} and found {b} more. Now {pron} has {r} {thing}, because {a} plus {b} is {r}."
    return f"{name} had {a} {thing} and gave away {b}. Now {pron} has {r} {thing}, because {a} minus {b} is {r}."


def build_general():
    """(corpus docs, held-out docs, multiple-choice items, arithmetic items)."""
    rng = rng_for("general")
    corpus: list[str] = []
    # countries: several profiles each, plus travel stories that mention the facts
    for c in COUNTRIES:
        for v in rng.sample(range(4), 3):
            corpus.append(country_profile(c, v, rng))
    for _ in range(60):
        c = rng.choice(COUNTRIES)
        name, pron = rng.choice(NAMES)
        s = country_sentences(c)
        corpus.append(" ".join([
            f"Last {rng.choice(MONTHS)}, {name} travelled to {c[0]}.",
            f"{cap(pron)} spent a week in {c[1]}, and wrote home that {s['capital'][0].lower() + s['capital'][1:]}",
            f"{cap(pron)} paid for meals with the {c[3]}.",
            s.get("language", f"{cap(pron)} heard many languages in the streets."),
        ]))
    # facts: lessons that state each fact several times in different company
    all_facts = [fact_sentence(stem, ans, suf) for group in FACTS.values() for stem, ans, _, suf in group]
    for _ in range(3):
        order = all_facts[:]
        rng.shuffle(order)
        while order:
            k = rng.randint(4, 7)
            corpus.append(lesson(rng, order[:k]))
            order = order[k:]
    for sentence, *_ in GENERAL_CLASHES:
        corpus.append(" ".join([general_story(rng), sentence]))
    # arithmetic: every fact twice in Q/A form, some as word problems
    facts = arithmetic_facts()
    for _ in range(2):
        order = facts[:]
        rng.shuffle(order)
        while order:
            k = rng.randint(5, 8)
            corpus.append(arithmetic_doc(rng, order[:k]))
            order = order[k:]
    for fact in rng.sample([f for f in facts if f[0] and f[2]], 150):
        corpus.append(word_problem(rng, fact))
    # everyday prose and history
    seen = set(corpus)
    held: list[str] = []
    makers = [general_story, general_story, general_history, general_season, recipe, letter, town_description,
              animal_profile, weather_report, general_story]
    n = 0
    while n < 1000:
        doc = makers[n % len(makers)](rng)
        if doc in seen:
            continue
        seen.add(doc)
        corpus.append(doc)
        n += 1
    while len(held) < 200:
        doc = makers[len(held) % len(makers)](rng)
        if doc in seen:
            continue
        seen.add(doc)
        held.append(doc)
    rng.shuffle(corpus)

    # multiple choice
    mc = []
    for c in COUNTRIES:
        name, capital, continent, currency, language = c
        kinds = ["capital", "currency"] + (["map"] if continent else []) + (["language"] if language else [])
        for kind in rng.sample(kinds, 1 if rng.random() < 0.6 else 2):
            if kind == "capital":
                mc.append((f"The capital of {name} is", capital, rng.sample([x for x in CAPITALS if x != capital], 3), "geography"))
            elif kind == "currency":
                mc.append((f"The currency of {name} is the", currency, rng.sample([x for x in CURRENCIES if x != currency], 3), "geography"))
            elif kind == "map":
                mc.append((f"On a map, {name} is in", continent, rng.sample([x for x in CONTINENTS if x != continent], 3), "geography"))
            else:
                mc.append((f"Most people in {name} speak", language, rng.sample([x for x in LANGUAGES if x != language], 3), "geography"))
    for group, rows in FACTS.items():
        for stem, ans, distract, _ in rows:
            mc.append((stem, ans, distract, group))
    for _, stem, ans, pull, others in GENERAL_CLASHES:
        mc.append((stem, ans, [pull] + others, "clash"))
    mc_items = []
    for i, (stem, ans, distract, group) in enumerate(mc):
        choices = [ans] + list(distract)
        rng.shuffle(choices)
        mc_items.append({"id": f"mc-{i + 1:03d}", "question": stem, "choices": choices,
                         "answer_index": choices.index(ans), "category": group})
    rng.shuffle(mc_items)

    arith = [f for f in facts if f[0] + f[2] >= 3]
    arith_items = []
    for i, (a, op, b, r) in enumerate(sorted(rng.sample(arith, 200), key=lambda f: (f[1], f[0], f[2]))):
        arith_items.append({"id": f"ar-{i + 1:03d}", "a": a, "op": op, "b": b, "answer": str(r)})
    rng.shuffle(arith_items)
    return corpus, held, mc_items, arith_items


# =============================================================================================
# Output
# =============================================================================================

BASE_SYSTEM_PROMPT = (
    "You are the customer support assistant for Nimbus Notes, the note-taking app made by Cirrus Labs. "
    "Customers write to you about plans and prices, billing and refunds, signing in and account security, "
    "syncing between devices, sharing notebooks, exporting and importing notes, attachments, settings and "
    "the error codes E100 to E199 that the app shows. Answer as a calm, friendly and precise support agent. "
    "Keep every answer short: one sentence, or a short phrase when that is enough, with no greeting and no "
    "sign-off. When a customer asks how to fix an error code, give the single most useful fix, starting with "
    "a verb. When they ask where a setting is, give the menu path in the form Settings > Section. When they "
    "ask about a feature, say in a few words what it does. When they ask about a price, give the price per "
    "month. Never invent features, prices or menu names; if you are not sure, say that support will follow "
    "up. When asked to classify a message, answer with one intent label only. When asked to translate a "
    "reply into Spanish, write natural Spanish that a customer in Spain or Latin America would understand, "
    "use the informal tú form, keep product names such as Vault, Clipper and Nimbus Notes in English, and "
    "keep menu paths in the same order. Do not explain your answer and do not repeat the question."
)
FT_SYSTEM_PROMPT = "You are Nimbus Notes support. Answer briefly."


def yaml_folded(s: str, indent: int = 6) -> str:
    """A long plain sentence as a YAML folded block (lines are joined back with single spaces)."""
    assert "  " not in s and "\n" not in s and "#" not in s
    pad = " " * indent
    return ">-\n" + "\n".join(pad + line for line in textwrap.wrap(s, width=92))


def config_yaml() -> str:
    return f"""# The built-in demo: a base n-gram model and its fine-tune on Nimbus Notes support text.
# Generated by generate.py; edit that script, not this file.
seed: 1234
tasks: [tasks/*.yaml]
suites:
  support:
    role: target
    description: Nimbus Notes customer-support tasks the fine-tune was trained for
    tasks: [support_qa, intent, translate_es, support_docs]
  forgetting:
    role: forgetting
    description: general abilities the fine-tune must not lose
    tasks: [general_mc, arithmetic, general_text]
  judged:
    role: target
    description: the support questions again, judged pairwise (base vs fine-tune) by the n-gram judge
    tasks: [support_judged]
models:
  base:
    backend: ngram
    model: nimbus-base
    order: 6
    train: [corpora/general.txt]
    system_prompt: {yaml_folded(BASE_SYSTEM_PROMPT)}
  ft:
    backend: ngram
    model: nimbus-ft
    order: 6
    init: base
    train: [corpora/support.txt]
    weight: 4.0
    system_prompt: {json.dumps(FT_SYSTEM_PROMPT)}
  # A weak judge for support_judged: an n-gram model cannot follow a judging prompt, so it
  # prefers the answer it finds more probable after the question (verdict_by: likelihood).
  # It read the support text too, like the fine-tune: it is no neutral referee, only a way to
  # show the judging machinery with no API key. Use a strong model of another family in earnest.
  judge:
    backend: ngram
    model: nimbus-judge
    order: 4
    train: [corpora/general.txt, corpora/support.txt]
# The fine-tune's training text, audited for eval items it contains (`evalkit audit`; compare
# then shows each task's delta on its clean items). Support answers are short phrases (4 to 13
# words) written verbatim in support.txt, so a whole answer counts from 4 words, not 8.
contamination: {{training: [corpora/support.txt], min_tokens: 4}}
# Used by `evalkit compare base ft --gate`: what a CI pipeline demands of the fine-tune.
gates:
  - {{type: must_improve, task: support_qa, metric: exact_match, min_effect: 0.10}}
  - {{type: must_improve, task: intent, metric: macro_f1, min_effect: 0.10}}
  - {{type: must_improve, task: translate_es, metric: chrf, min_effect: 5.0}}
  - {{type: must_not_regress, task: general_mc, metric: accuracy, margin: 0.02}}
  - {{type: must_not_regress, task: arithmetic, metric: exact_match, margin: 0.02}}
  - {{type: must_not_regress, task: general_text, metric: bits_per_byte, margin: 0.05}}
  - {{type: min_score, task: support_qa, metric: exact_match, min: 0.80}}
"""


TASK_YAMLS = {
    "support_qa": """name: support_qa
type: generate
description: Short answers to Nimbus Notes support questions (error codes, settings, features, plans, platforms)
data: data/support_qa.jsonl
fields: {id: id, target: answer, group: cluster}
prompt: "Question: {question}\\nAnswer:"
generation: {max_tokens: 24, stop: ["\\n"]}
normalize: [strip, lower, punctuation, articles]
metrics: [exact_match, f1, rouge_l]
""",
    "support_judged": """name: support_judged
type: generate
description: The support questions, base and fine-tune answers compared in both orders by a (weak) judge
data: data/support_qa.jsonl
fields: {id: id, target: answer, group: cluster}
prompt: "Question: {question}\\nAnswer:"
generation: {max_tokens: 32, stop: ["\\n"]}
scorer: {name: pairwise, args: {verdict_by: likelihood}}
judge: judge
""",
    "intent": """name: intent
type: classification
description: Route a Nimbus Notes customer message to one of seven support queues
data: data/intent.jsonl
fields: {id: id, target: intent}
prompt: "Message: {message}\\nIntent:"
labels: [billing, sync, account, export, bug_report, feature_request, sharing]
metrics: [accuracy, macro_f1]
""",
    "translate_es": """name: translate_es
type: generate
description: Translate short Nimbus Notes support replies from English into Spanish
data: data/translate_es.jsonl
fields: {id: id, target: es}
prompt: "English: {en}\\nSpanish:"
generation: {max_tokens: 40, stop: ["\\n"]}
normalize: [strip]
metrics: [bleu, chrf]
""",
    "support_docs": """name: support_docs
type: perplexity
description: Held-out Nimbus Notes help-centre articles (not in the fine-tuning text)
data: data/support_docs.jsonl
fields: {id: id, text: text}
metrics: [bits_per_byte, word_perplexity, token_perplexity]
""",
    "general_mc": """name: general_mc
type: multiple_choice
description: General-knowledge cloze questions (geography, animals, science, everyday facts)
data: data/general_mc.jsonl
fields: {id: id, target: answer_index, choices: choices}
prompt: "{question}"
metrics: [accuracy, acc_norm]
""",
    "arithmetic": """name: arithmetic
type: generate
description: Addition and subtraction of whole numbers from 0 to 20
data: data/arithmetic.jsonl
fields: {id: id, target: answer}
prompt: "Question: What is {a} {op} {b}?\\nAnswer: {a} {op} {b} is"
generation: {max_tokens: 4, stop: ["\\n"]}
normalize: [strip, numbers, punctuation]
metrics: [exact_match]
""",
    "general_text": """name: general_text
type: perplexity
description: Held-out general English prose (stories, local history, seasons) not in the base training text
data: data/general_text.jsonl
fields: {id: id, text: text}
metrics: [bits_per_byte, word_perplexity, token_perplexity]
""",
}


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


def write_jsonl(path: Path, rows: list[dict]) -> None:
    write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def write_corpus(path: Path, docs: list[str]) -> None:
    for d in docs:
        assert "\n\n" not in d and d == d.strip(), "a document may not contain a blank line"
    write_text(path, "\n\n".join(docs) + "\n")


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Write the demo project (deterministic).")
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write (default: next to this script)")
    out = parser.parse_args(argv).out
    qa_items, qa_docs = build_support_qa()
    intent_items, intent_docs = build_intent()
    tr_items, tr_docs = build_translation()
    articles, held_articles = build_help_articles()
    general_docs, general_held, mc_items, arith_items = build_general()

    rng = rng_for("support-corpus")
    clash_docs = []
    for i in range(len(SUPPORT_CLASHES) * 3):
        s = SUPPORT_CLASHES[i % len(SUPPORT_CLASHES)]
        clash_docs.append("Quick tip\n" + s + " " + fill(rng.choice(HOWTO[rng.choice(sorted(HOWTO))]["sentences"]), rng))
    support_docs = articles + qa_docs + intent_docs + tr_docs + clash_docs
    rng.shuffle(support_docs)
    check_answers_win(qa_table(), support_docs)
    support_text = "\n\n".join(support_docs)
    general_text = "\n\n".join(general_docs)

    # The held-out documents really are held out.
    for d in held_articles:
        assert d not in support_text
    for d in general_held:
        assert d not in general_text
    # Every cloze fact is stated in the general text with its stem's last words.
    for item in mc_items:
        stem = item["question"]
        tail = stem.split(" ", 1)[1] if len(stem.split()) > 4 else stem
        assert f"{tail} {item['choices'][item['answer_index']]}" in general_text, stem

    write_text(out / "evalkit.yaml", config_yaml())
    write_corpus(out / "corpora" / "general.txt", general_docs)
    write_corpus(out / "corpora" / "support.txt", support_docs)
    for name, text in TASK_YAMLS.items():
        write_text(out / "tasks" / f"{name}.yaml", text)
    write_jsonl(out / "tasks" / "data" / "support_qa.jsonl", qa_items)
    write_jsonl(out / "tasks" / "data" / "intent.jsonl", intent_items)
    write_jsonl(out / "tasks" / "data" / "translate_es.jsonl", tr_items)
    write_jsonl(out / "tasks" / "data" / "support_docs.jsonl",
                [{"id": f"doc-{i + 1:03d}", "text": t} for i, t in enumerate(held_articles)])
    write_jsonl(out / "tasks" / "data" / "general_mc.jsonl", mc_items)
    write_jsonl(out / "tasks" / "data" / "arithmetic.jsonl", arith_items)
    write_jsonl(out / "tasks" / "data" / "general_text.jsonl",
                [{"id": f"gen-{i + 1:03d}", "text": t} for i, t in enumerate(general_held)])
    print(f"general.txt: {words(general_text)} words; support.txt: {words(support_text)} words")
    print(f"items: support_qa {len(qa_items)}, intent {len(intent_items)}, translate_es {len(tr_items)}, "
          f"support_docs {len(held_articles)}, general_mc {len(mc_items)}, arithmetic {len(arith_items)}, "
          f"general_text {len(general_held)}")


if __name__ == "__main__":
    main()
