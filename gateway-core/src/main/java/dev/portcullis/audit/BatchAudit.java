package dev.portcullis.audit;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * One audit event per 2025-03-26 batch instead of one per element (issue 12 item 10), so the audit volume
 * of a request is bounded whatever the batch holds. Nothing about a refusal is lost: every decision is
 * counted ({@code decisions}), every refusal is counted by its rule ({@code refused_rules}), and the
 * elements themselves are listed up to {@link #SAMPLE}, refusals first, with the number left out
 * ({@code elements_omitted}).
 */
final class BatchAudit {
    /** Elements described one by one in the batch event, refusals first. */
    static final int SAMPLE = 20;

    /** One decided element: its index in the batch and what was decided. */
    record Element(int index, String method, String target, String decision, String rule,
                   com.fasterxml.jackson.databind.JsonNode arguments) {
        boolean refused() {
            return !decision.equals("allow");
        }

        /** Arguments are rendered (digested) only for the elements the event lists. */
        Map<String, Object> fields(ArgumentLogging logging) {
            Map<String, Object> f = new LinkedHashMap<>();
            f.put("index", index);
            f.put("method", method);
            if (target != null) f.put("target", target);
            f.put("decision", decision);
            if (rule != null) f.put("rule", rule);
            Object rendered = logging == null ? null : logging.render(arguments);
            if (rendered != null) f.put("arguments", rendered);
            return f;
        }
    }

    /** The event's summary of the whole batch. */
    record Summary(String decision, String rule, String reason, Map<String, Object> batch) {}

    private BatchAudit() {}

    static Summary summarise(List<Element> elements, ArgumentLogging logging) {
        Map<String, Integer> decisions = new TreeMap<>();
        Map<String, Integer> refusedRules = new TreeMap<>();
        List<Element> refused = new ArrayList<>();
        List<Element> allowed = new ArrayList<>();
        for (Element element : elements) {
            decisions.merge(element.decision(), 1, Integer::sum);
            if (element.refused()) {
                refusedRules.merge(element.rule() == null ? "-" : element.rule(), 1, Integer::sum);
                refused.add(element);
            } else {
                allowed.add(element);
            }
        }
        List<Map<String, Object>> sample = new ArrayList<>();
        for (Element element : refused) {
            if (sample.size() == SAMPLE) break;
            sample.add(element.fields(logging));
        }
        for (Element element : allowed) {
            if (sample.size() == SAMPLE) break;
            sample.add(element.fields(logging));
        }
        Map<String, Object> batch = new LinkedHashMap<>();
        batch.put("size", elements.size());
        batch.put("decisions", decisions);
        if (!refusedRules.isEmpty()) {
            batch.put("refused_rules", refusedRules);
        }
        batch.put("elements", sample);
        batch.put("elements_omitted", elements.size() - sample.size());
        String decision = decisions.size() == 1 ? decisions.keySet().iterator().next() : "mixed";
        String rule = elements.stream().map(Element::rule).distinct().count() == 1 ? elements.get(0).rule() : null;
        StringBuilder reason = new StringBuilder().append(elements.size()).append(" messages:");
        decisions.forEach((d, n) -> reason.append(' ').append(n).append(' ').append(d).append(','));
        reason.setLength(reason.length() - 1);
        return new Summary(decision, rule, reason.toString(), batch);
    }
}
