"""Letters and notifications: templates, PDF letters, delivery adapters and the recipient's choices.

The workflow decides *that* a letter is due (a template name, a role, ids); this package decides
*how* it reaches the person at send time, from the case file: whom to address, in which language and
format, by post, email or SMS, or not at all (an anonymous reporter, a refused channel). Keeping that
here means personal data never enters Temporal and a change of contact preference takes effect on
the next letter without touching a running case.
"""
