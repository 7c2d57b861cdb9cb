"""The window at both ends: applicants, catalog, applications, acceptance, notices, issuance."""


def init_app(app) -> None:
    return None
