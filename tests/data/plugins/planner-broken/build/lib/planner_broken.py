"""A plugin that fails at import time, as one with a missing dependency would."""

import vendor_sdk_that_is_not_installed  # noqa: F401
