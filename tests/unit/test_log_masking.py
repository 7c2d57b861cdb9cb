"""Personal data never reaches a log line in clear: the root handlers mask it."""

import logging

from onewindow.app import mask_personal_data_in_logs


def test_root_handlers_mask_id_and_phone_numbers():
    # Given a root handler such as `serve` installs
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(self.format(record))

    handler = Collect()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        # When the log filter is installed and a message carries an ID and a phone number
        mask_personal_data_in_logs()
        mask_personal_data_in_logs()  # idempotent
        logging.getLogger("intake.test").warning("applicant %s phone %s", "110101199003071233", "13812345678")
    finally:
        root.removeHandler(handler)
    # Then both are masked
    assert records == ["applicant 110101********1233 phone 138****5678"]
    assert sum(1 for f in handler.filters if type(f).__name__ == "PersonalDataFilter") == 1
