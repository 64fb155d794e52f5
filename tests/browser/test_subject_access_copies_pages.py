"""The subject access review in a real browser: marking a safeguarding concern offers to
withhold its copy (ticked by default), and a copy left unmarked is flagged with a link to the
withheld passage; axe-core finds no serious or critical problems."""

from __future__ import annotations

from playwright.sync_api import expect

from tests import test_pathway_walkthrough as walk
from tests import test_subject_access
from tests.browser.conftest import serious_accessibility_problems, sign_in

families = test_subject_access.families  # the Ashdowns have a safeguarding concern
CONCERN = walk.CONCERN["concern"]


# The concern's own passage (its id is the page id of "concern:<id>:concern").
OWN = 'dd[id^="p-concern-"][id$="-concern"]'


def open_mark_form(page):
    place = page.locator(OWN)
    place.locator("summary").first.click()
    return place


def test_marking_with_the_box_ticked_withholds_the_copy_too(app, page, families):
    ashdown, _ = families
    sign_in(page, "morgan.manager")
    page.goto(f"/cases/{ashdown}/subject-access")
    concern = open_mark_form(page)
    box = concern.get_by_label("Also withhold the 1 other place with the same text")
    expect(box).to_be_checked()
    expect(concern.get_by_role("link", name="the whole entry")).to_be_visible()
    assert serious_accessibility_problems(page) == []
    concern.get_by_label("Reason for withholding Concern").fill("Police enquiry")
    concern.get_by_role("button", name="Mark").click()
    expect(page.locator(".flash-success")).to_contain_text("with the 1 other place")

    page.goto(f"/cases/{ashdown}/subject-access?release=1")
    expect(page.locator(OWN)).to_contain_text("[Redacted: Police enquiry]")
    expect(page.locator("article")).not_to_contain_text(CONCERN)
    expect(page.locator("article")).not_to_contain_text("Same text as a withheld passage")


def test_a_copy_left_unmarked_is_flagged_with_a_link_to_the_withheld_passage(app, page, families):
    ashdown, _ = families
    sign_in(page, "dana.data")
    page.goto(f"/cases/{ashdown}/subject-access")
    concern = open_mark_form(page)
    concern.get_by_label("Also withhold the 1 other place with the same text").uncheck()
    concern.get_by_label("Reason for withholding Concern").fill("Police enquiry")
    concern.get_by_role("button", name="Mark").click()

    flags = page.locator(".sa-copy-flag")
    expect(flags).to_have_count(2)  # the recording entry's summary and its "concern" answer
    expect(flags.first).to_contain_text("Same text as a withheld passage: not withheld here.")
    assert serious_accessibility_problems(page) == []
    own = page.locator(OWN).get_attribute("id")
    flags.first.get_by_role("link").first.click()
    expect(page).to_have_url(f"{page.url.split('#')[0]}#{own}")
