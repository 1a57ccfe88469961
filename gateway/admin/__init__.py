"""Administration: onboarding, users, route files, reports, the demo and the portal's live feed."""
