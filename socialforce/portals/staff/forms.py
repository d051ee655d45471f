"""Staff portal forms."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length


class RevealForm(FlaskForm):
    purpose = StringField(_l("Purpose of viewing"), validators=[DataRequired(), Length(min=2, max=200)])
