"""``ws.residents``: consultations (:mod:`gis.residents.consultations`), notices and the public's
feedback (:mod:`gis.residents.public`) on one desk."""

from __future__ import annotations

from gis.residents.consultations import ConsultationDesk
from gis.residents.public import PublicDesk
from gis.residents.rules import ResidentsRules, residents_rules
from gis.store.database import Database


class Residents(ConsultationDesk, PublicDesk):
    """The residents' voice of a gisplan database. Build it through ``ws.residents``.

    Consultations: :meth:`open_consultation`, :meth:`record_results`, :meth:`decide`,
    :meth:`consultations`, :meth:`consultation`, :meth:`outcomes`. Notices: :meth:`add_notice`,
    :meth:`close_notice`, :meth:`notices`, :meth:`public_notices`. Feedback: :meth:`submit_feedback`,
    :meth:`feedback`, :meth:`answer`, :meth:`publish`, :meth:`reject`, :meth:`close`,
    :meth:`published_feedback`, :meth:`feedback_figures`.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self.rules: ResidentsRules = residents_rules()
