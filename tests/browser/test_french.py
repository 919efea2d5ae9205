"""A French browser goes through sign-up, the link that verifies the email, a tablo, a task with
an empty title, the members tab, the account page and sign-out, and meets no English sentence on
the way."""

import re
import uuid
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer, mailed_link

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

CATALOGUE = Path(__file__).resolve().parents[2] / "xtablo" / "translations" / "fr" / "LC_MESSAGES" / "messages.po"
PASSWORD = "correct horse battery"


def english_sentences() -> list[re.Pattern]:
    """Every English message of the app that French says otherwise, as a pattern (placeholders
    match anything): none of them may show on a French page."""
    with CATALOGUE.open("rb") as file:
        catalogue = read_po(file)
    patterns = []
    for message in catalogue:
        if not message.id:
            continue
        for english, french in zip(message.id if isinstance(message.id, tuple) else [message.id],
                                   message.string if isinstance(message.string, tuple) else [message.string]):
            if english == french or len(english.split()) < 2:  # "Notes", "Description": the same word
                continue
            parts = re.split(r"%\(\w+\)[sd]", english)
            patterns.append(re.compile(".+?".join(re.escape(part) for part in parts)))
    return patterns


ENGLISH = english_sentences()


def no_english(page: Page) -> None:
    text = page.locator("body").inner_text()
    found = [pattern.pattern for pattern in ENGLISH if pattern.search(text)]
    assert found == [], f"English on {page.url}: {found}"


@pytest.mark.parametrize("context_options", [{"locale": "fr-FR"}], ids=["fr-FR"])
def test_a_french_browser_meets_no_english_sentence(page: Page, live_server: LiveServer) -> None:
    email = f"ines-{uuid.uuid4().hex[:10]}@example.com"
    page.goto("/signup")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    no_english(page)
    page.get_by_label("Votre nom").fill("Inès")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe", exact=True).fill(PASSWORD)
    page.get_by_label("Confirmez le mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Créer un compte").click()
    expect(page.get_by_role("heading", name="Mes tablos")).to_be_visible()
    expect(page.get_by_role("button", name="Renvoyer le lien")).to_be_visible()
    no_english(page)

    page.goto(mailed_link(live_server, email, "/email/verify/"))
    no_english(page)
    page.get_by_role("button", name="Vérifier mon adresse").click()
    expect(page.get_by_text(f"Votre adresse e-mail {email} est vérifiée.")).to_be_visible()
    no_english(page)

    page.get_by_role("link", name="Nouveau tablo").click()
    no_english(page)
    page.get_by_label("Titre").fill("Rénovation")
    page.get_by_role("button", name="Créer le tablo").click()
    expect(page.get_by_role("heading", name="Rénovation", level=1)).to_be_visible()
    no_english(page)

    page.get_by_text("Ajouter une tâche").click()
    page.get_by_role("button", name="Ajouter la tâche").click()  # an empty title
    expect(page.get_by_text("Donnez-lui un titre.")).to_be_visible()
    no_english(page)
    page.get_by_label("Tâche", exact=True).fill("Poser le carrelage")
    page.get_by_role("button", name="Ajouter la tâche").click()
    expect(page.locator("#column-todo").get_by_role("link", name="Poser le carrelage", exact=True)).to_be_visible()
    no_english(page)

    page.get_by_role("link", name="Membres").click()
    expect(page.get_by_role("heading", name="Membres")).to_be_visible()
    no_english(page)

    page.goto("/account")
    expect(page.get_by_label("Nouvelle adresse e-mail")).to_be_visible()
    no_english(page)

    page.get_by_role("navigation", name="Menu principal").get_by_role("button", name="Se déconnecter").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    no_english(page)


@pytest.mark.parametrize("context_options", [{"locale": "fr-FR"}], ids=["fr-FR"])
def test_a_french_browser_meets_no_english_on_the_etape_pages(page: Page) -> None:
    """Issue 9: the Étapes tab empty, with an error, with étapes, tasks and progress; an étape's
    pages; the board filtered by étape. Its one-word buttons, which the catalogue check above
    leaves out, are read by name."""
    page.goto("/signup")
    page.get_by_label("Votre nom").fill("Inès")
    page.get_by_label("Adresse e-mail").fill(f"ines-{uuid.uuid4().hex[:10]}@example.com")
    page.get_by_label("Mot de passe", exact=True).fill(PASSWORD)
    page.get_by_label("Confirmez le mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Créer un compte").click()
    page.get_by_role("link", name="Nouveau tablo").click()
    page.get_by_label("Titre").fill("Rénovation")
    page.get_by_role("button", name="Créer le tablo").click()
    expect(page.get_by_role("heading", name="Rénovation", level=1)).to_be_visible()
    tabs = page.get_by_role("navigation", name="Sections du tablo")

    tabs.get_by_role("link", name="Étapes").click()
    expect(page.get_by_text("Aucune étape pour l’instant.")).to_be_visible()
    no_english(page)
    page.get_by_text("Ajouter une étape").click()
    page.get_by_role("button", name="Ajouter l’étape").click()  # no title
    expect(page.get_by_text("Donnez-lui un titre.")).to_be_visible()
    no_english(page)
    page.get_by_label("Titre").fill("Études")
    page.get_by_label("Description (facultative)").fill("Plans et permis")
    page.get_by_role("button", name="Ajouter l’étape").click()
    expect(page.get_by_role("heading", name="Études", level=2)).to_be_visible()
    page.get_by_label("Titre").fill("Gros œuvre")
    page.get_by_role("button", name="Ajouter l’étape").click()
    expect(page.get_by_role("heading", name="Gros œuvre", level=2)).to_be_visible()
    no_english(page)

    tabs.get_by_role("link", name="Tâches").click()
    new_task = page.locator("details.new-task")
    new_task.get_by_text("Ajouter une tâche").click()
    for title, etape in [("Poser le carrelage", "Études"), ("Peindre", "Aucune étape")]:
        new_task.get_by_label("Tâche", exact=True).fill(title)
        new_task.get_by_label("Étape", exact=True).select_option(label=etape)
        new_task.get_by_role("button", name="Ajouter la tâche").click()
        expect(page.locator("#column-todo").get_by_role("link", name=title, exact=True)).to_be_visible()
    expect(page.locator(".task").filter(has_text="Poser le carrelage").locator(".etape-mark")).to_have_text("Étape : Études")
    no_english(page)

    tabs.get_by_role("link", name="Étapes").click()
    expect(page.get_by_text("1 tâche n’a pas d’étape.")).to_be_visible()
    expect(page.get_by_role("link", name="La voir sur le tableau")).to_be_visible()
    gros_oeuvre = page.locator("li.etape").filter(has=page.get_by_role("heading", name="Gros œuvre"))
    gros_oeuvre.get_by_label("Ajouter une tâche à cette étape").select_option(label="Peindre (À faire)")
    gros_oeuvre.get_by_role("button", name="Ajouter", exact=True).click()
    expect(gros_oeuvre.get_by_role("link", name="Peindre")).to_be_visible()
    expect(gros_oeuvre.locator(".progress-text")).to_have_text("0 / 1 terminée")
    expect(page.get_by_text("0 tâche n’a pas d’étape.")).to_be_visible()
    no_english(page)
    etudes = page.locator("li.etape").filter(has=page.get_by_role("heading", name="Études"))
    for button in ("Retirer « Poser le carrelage » de cette étape", "Monter Études", "Descendre Études"):
        expect(etudes.get_by_role("button", name=button, exact=True)).to_be_visible()
    for link in ("Voir sur le tableau Études", "Modifier Études", "Supprimer… Études"):
        expect(etudes.get_by_role("link", name=link, exact=True)).to_be_visible()

    etudes.get_by_role("link", name="Modifier Études").click()
    expect(page.get_by_role("heading", name="Modifier l’étape")).to_be_visible()
    no_english(page)
    page.get_by_role("link", name="Supprimer cette étape…").click()
    expect(page.get_by_text("Sa tâche sera détachée : elle reste sur le tableau, dans sa colonne, sans étape.")).to_be_visible()
    no_english(page)
    page.get_by_role("link", name="Annuler").click()

    etudes.get_by_role("link", name="Voir sur le tableau Études").click()
    expect(page).to_have_url(re.compile(r"\?etape=\d+$"))
    expect(page.get_by_label("Filtrer par étape")).to_be_visible()
    expect(page.get_by_role("link", name="Afficher toutes les tâches")).to_be_visible()
    no_english(page)
    page.get_by_label("Filtrer par étape").select_option(label="Sans étape")
    expect(page).to_have_url(re.compile(r"\?etape=none$"))
    no_english(page)


@pytest.mark.parametrize("context_options", [{"locale": "fr-FR", "timezone_id": "Europe/Paris"}], ids=["fr-FR"])
def test_a_french_browser_meets_no_english_on_the_events_and_the_planning(page: Page) -> None:
    """Issue 10: the Events tab with errors (the clocks' night among them) and with events, an
    event's page and its delete page, the planning's three views, the feed on. Its one-word
    buttons and labels, which the catalogue check leaves out, are read by name."""
    page.goto("/signup")
    page.get_by_label("Votre nom").fill("Inès")
    page.get_by_label("Adresse e-mail").fill(f"ines-{uuid.uuid4().hex[:10]}@example.com")
    page.get_by_label("Mot de passe", exact=True).fill(PASSWORD)
    page.get_by_label("Confirmez le mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Créer un compte").click()
    page.get_by_role("link", name="Nouveau tablo").click()
    page.get_by_label("Titre").fill("Rénovation")
    page.get_by_role("button", name="Créer le tablo").click()
    expect(page.get_by_role("heading", name="Rénovation", level=1)).to_be_visible()

    page.get_by_role("navigation", name="Sections du tablo").get_by_role("link", name="Événements").click()
    expect(page.get_by_text("Rien de prévu pour l’instant.")).to_be_visible()
    no_english(page)
    page.get_by_text("Ajouter un événement").click()
    expect(page.get_by_text("Les heures sont dans votre fuseau horaire, Europe/Paris.")).to_be_visible()
    expect(page.get_by_role("link", name="Changer de fuseau horaire")).to_be_visible()
    page.get_by_role("button", name="Ajouter l’événement").click()  # nothing typed
    expect(page.get_by_text("Donnez-lui un titre.")).to_be_visible()
    no_english(page)
    page.get_by_label("Titre").fill("Visite de chantier")
    page.get_by_label("Commence le").fill("2027-03-28")
    page.get_by_label("Heure de début").fill("02:30")
    page.get_by_role("button", name="Ajouter l’événement").click()
    expect(page.locator("#start_time-error")).to_contain_text("les horloges avancent cette nuit-là")
    no_english(page)
    page.get_by_label("Heure de début").fill("09:00")
    page.get_by_label("Heure de fin (facultative)").fill("10:30")
    page.get_by_label("Lieu (facultatif)").fill("12 rue de la Paix")
    page.get_by_role("button", name="Ajouter l’événement").click()
    expect(page.get_by_text("Événement « Visite de chantier » ajouté.")).to_be_visible()
    event = page.locator("li.event")
    expect(event).to_contain_text("dim. 28 mars 2027 · 09:00 – 10:30")
    expect(event.locator(".where")).to_have_text("Lieu : 12 rue de la Paix")
    for link in ("Ajouter à l’agenda Visite de chantier", "Modifier Visite de chantier", "Supprimer… Visite de chantier"):
        expect(event.get_by_role("link", name=link, exact=True)).to_be_visible()
    no_english(page)
    page.get_by_role("link", name="Voir les événements passés").click()
    no_english(page)
    page.get_by_role("link", name="Voir ce qui est à venir").click()

    page.get_by_role("link", name="Modifier Visite de chantier").click()
    expect(page.get_by_role("button", name="Enregistrer")).to_be_visible()
    no_english(page)
    page.get_by_role("link", name="Supprimer cet événement…").click()
    expect(page.get_by_role("button", name="Supprimer l’événement")).to_be_visible()
    no_english(page)

    for view, name in [("agenda", "Agenda"), ("week", "Semaine"), ("month", "Mois")]:
        page.goto(f"/planning?view={view}&date=2027-03-28")
        views = page.get_by_role("navigation", name="Vues du planning")
        expect(views.get_by_role("link", name=name, exact=True)).to_have_attribute("aria-current", "page")
        expect(page.get_by_role("link", name="Visite de chantier").first).to_be_visible()
        no_english(page)
    page.get_by_role("button", name="Activer le flux d’agenda").click()
    expect(page.get_by_label("L’adresse de votre flux")).to_be_visible()
    expect(page.get_by_role("button", name="Copier")).to_be_visible()
    no_english(page)
