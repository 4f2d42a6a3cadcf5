"""Officers' results and outreach tools: exports, reports, links and posters, flow diagrams, SMS cost."""
