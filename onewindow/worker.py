"""Worker entry for `dramatiq onewindow.worker`: build the app so the broker and actors are bound."""

from onewindow.app import create_app, freeze_start_up_heap, mask_personal_data_in_logs

app = create_app()
mask_personal_data_in_logs()  # dramatiq set up its handlers before importing this module
freeze_start_up_heap()
