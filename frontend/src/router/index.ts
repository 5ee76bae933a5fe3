// Routes of the app. The designer and the run view (X6) and history (ECharts) are separate chunks,
// loaded when first opened.
import { createRouter, createWebHistory } from "vue-router";
import WorkflowsView from "@/views/WorkflowsView.vue";

export const router = createRouter({
  history: createWebHistory("/mcs/ui/"),
  routes: [
    { path: "/", redirect: { name: "workflows" } },
    { path: "/workflows", name: "workflows", component: WorkflowsView },
    { path: "/workflows/new", name: "new-workflow", component: () => import("@/views/DesignerView.vue") },
    {
      path: "/workflows/:key/design",
      name: "designer",
      component: () => import("@/views/DesignerView.vue"),
      props: (route) => ({ workflowKey: String(route.params.key) }),
    },
    {
      path: "/workflows/:key/triggers",
      name: "triggers",
      component: () => import("@/views/TriggersView.vue"),
      props: (route) => ({ workflowKey: String(route.params.key) }),
    },
    {
      path: "/runs/:id",
      name: "run",
      component: () => import("@/views/RunView.vue"),
      props: (route) => ({ id: Number(route.params.id) }),
    },
    { path: "/history", name: "history", component: () => import("@/views/HistoryView.vue") },
    { path: "/:pathMatch(.*)*", name: "not-found", component: () => import("@/views/NotFoundView.vue") },
  ],
});
