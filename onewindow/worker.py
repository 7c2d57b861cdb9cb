"""Worker entry for `dramatiq onewindow.worker`: build the app so the broker and actors are bound."""

from onewindow.app import create_app

app = create_app()
