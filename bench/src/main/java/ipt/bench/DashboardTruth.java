package ipt.bench;

import ipt.standalone.DashboardRun;

/**
 * bench/run DashboardTruth [english-kb java-kb german-kb]: `ipt demo` scraped by a real Prometheus, every dashboard
 * panel against what happened and the alerts that fired; writes deploy/grafana/truth.md and demo-dashboard.png.
 */
public final class DashboardTruth {
    private DashboardTruth() {}

    public static void main(String[] args) throws Exception {
        DashboardRun.main(args);
    }
}
