"""Calendars: iCalendar feeds of tasks and meetings, and .ics import."""
